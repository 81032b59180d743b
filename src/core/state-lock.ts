import { promises as fs } from "node:fs";
import path from "node:path";
import { systemClock, type Clock } from "./clock.js";
import { ClawbridgeError } from "./errors.js";
import { acquireLockFile, type HeldLockFile } from "./file-lock.js";
import { heldLocks } from "./held-locks.js";
import { thisProcess, type LockRecord } from "./lock-record.js";
import { silentLogger, type Logger } from "./logger.js";
import { coreMessages as t } from "./messages.js";

/** The lock's file name inside `state.dir`. */
export const STATE_LOCK_FILE = "bridge.lock";

/** What `bridge.lock` holds: the one lock record. */
export type StateLockHolder = LockRecord;

export interface StateLockOptions {
  logger?: Logger;
  /** Defaults to this machine's; tests pretend to be another bridge. */
  host?: string;
  /** Defaults to this process's. */
  pid?: number;
  clock?: Clock;
  /** Defaults to {@link isProcessAlive}. */
  isAlive?: (pid: number) => boolean;
}

/** The running bridge's hold on its state folder. */
export interface StateLock {
  readonly file: string;
  readonly holder: StateLockHolder;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/**
 * Makes this process the only bridge using `dir` (two would corrupt cursors and outboxes):
 * takes `dir/bridge.lock` (see `acquireLockFile`). A lock whose holder is alive on this
 * host refuses with `CB_STATE_LOCKED` at once; one whose pid is gone, or that was written on
 * another host (a state folder is local, so that is a copied folder), is taken over with a
 * warning. The state lock has no age limit: it is held for a whole run, never renewed.
 */
export async function lockStateDir(dir: string, options: StateLockOptions = {}): Promise<StateLock> {
  const resolved = path.resolve(dir);
  const file = path.join(resolved, STATE_LOCK_FILE);
  const log = (options.logger ?? silentLogger()).child({ component: "state-lock" });
  const identity = thisProcess({ host: options.host, pid: options.pid });
  // Claimed before the first await, so a concurrent call with the same identity is refused too.
  if (!heldLocks.claim({ file, kind: "state", ...identity, since: (options.clock ?? systemClock).now() })) {
    throw new ClawbridgeError("CB_STATE_LOCKED", t.text("stateLockedSelf", { dir: resolved }), {
      details: { lockFile: file },
    });
  }
  let held: HeldLockFile | undefined;
  try {
    // 0700: the state holds the device key, tokens and what people said; others need not read it.
    await fs.mkdir(resolved, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw stateIoError(resolved, error);
    });
    const result = await acquireLockFile(file, {
      kind: "state",
      rule: { localOnly: true, unreadableAfterMs: 100 },
      identity,
      timeoutMs: 5_000,
      refuseHeld: true,
      clock: options.clock,
      isAlive: options.isAlive,
      onTakeover: (seen, verdict) => {
        const previous = seen.record;
        if (verdict.why === "unreadable")
          log.warn({ lockFile: file }, "taking over an unreadable state lock");
        else if (verdict.why === "foreign-host")
          log.warn(
            { lockFile: file, previous },
            `taking over a state lock written on ${previous?.host}: this state folder was copied from another machine`,
          );
        else if (verdict.why === "own-leftover")
          log.info({ lockFile: file, previous }, "taking over this process's leftover state lock");
        else
          log.warn(
            { lockFile: file, previous },
            `taking over the state lock of pid ${previous?.pid}, which is gone`,
          );
      },
    }).catch((error: unknown) => {
      throw error instanceof ClawbridgeError ? error : stateIoError(file, error);
    });
    if (!result.ok) {
      const holder = result.seen?.record;
      if (!holder) {
        throw new ClawbridgeError("CB_STATE_LOCKED", t.text("stateLockBusy", { dir: resolved }), {
          retryable: true,
          details: { lockFile: file },
        });
      }
      throw new ClawbridgeError(
        "CB_STATE_LOCKED",
        t.text("stateLocked", { dir: resolved, pid: holder.pid, host: holder.host, since: holder.since }),
        { fix: t.text("stateLockedFix", { pid: holder.pid }), details: { lockFile: file, holder } },
      );
    }
    held = result.lock;
  } catch (error) {
    heldLocks.release(file, identity);
    throw error;
  }
  log.debug({ lockFile: file }, "state folder locked");
  const lock = held;
  let released = false;
  return {
    file,
    holder: lock.record,
    release: async () => {
      if (released) return;
      released = true;
      heldLocks.release(file, identity);
      const removed = await lock.release().catch((error: unknown) => {
        log.warn({ err: error, lockFile: file }, "could not remove the state lock");
        return true;
      });
      if (removed) log.debug({ lockFile: file }, "state folder unlocked");
      else log.warn({ lockFile: file }, "state lock is no longer ours; left in place");
    },
  };
}

/** A state folder that cannot be read or written, with the fix. */
export function stateIoError(file: string, cause: unknown): ClawbridgeError<"CB_STATE_IO"> {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new ClawbridgeError("CB_STATE_IO", t.text("stateIo", { file, reason: (cause as Error).message }), {
    fix: t.text("stateIoFix"),
    details: { file, ...(errno ? { errno } : {}) },
    cause,
  });
}
