import path from "node:path";
import type { LockIdentity } from "./lock-record.js";

/** The kinds of lock this process takes. */
export type LockKind = "state" | "lease" | "file";

export interface HeldLock {
  file: string;
  kind: LockKind;
  host: string;
  pid: number;
  /** ms since the epoch. */
  since: number;
}

/**
 * The one registry of the locks this process holds, whatever their kind. It answers "do
 * I hold this already?" (a second `lockStateDir` or lease in the same process is refused,
 * not "taken over" as a leftover), and queues this process's own users of one lock file
 * one after another, so they wait on a promise instead of spinning on the file system.
 * Keys include the identity because tests play several processes in one.
 */
class HeldLocks {
  private readonly held = new Map<string, HeldLock>();
  private readonly queues = new Map<string, Promise<void>>();

  /** Records the lock as ours; false when this identity holds it already. */
  claim(lock: HeldLock): boolean {
    const key = keyOf(lock.file, lock);
    if (this.held.has(key)) return false;
    this.held.set(key, { ...lock, file: path.resolve(lock.file) });
    return true;
  }

  release(file: string, identity: LockIdentity): void {
    this.held.delete(keyOf(file, identity));
  }

  /** Everything held now (status, diagnostics). */
  list(): HeldLock[] {
    return [...this.held.values()];
  }

  /**
   * Runs `fn` after every earlier call for the same lock file in this process has settled.
   * Different files never wait for each other.
   */
  serialize<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const key = path.resolve(file);
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return run;
  }
}

function keyOf(file: string, identity: LockIdentity): string {
  return `${path.resolve(file)}\0${identity.host}\0${identity.pid}`;
}

export const heldLocks = new HeldLocks();
