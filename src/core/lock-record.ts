import os from "node:os";
import type { Clock } from "./clock.js";
import { errnoCode } from "./errors.js";

/**
 * What every lock file of ours holds — the mailbox `<file>.lock`, the shared-folder lease
 * `status/<self>.lock` and the state folder's `bridge.lock`: who holds it and since when.
 * The lease adds a heartbeat and a version; readers keep whatever else they find.
 */
export interface LockRecord {
  host: string;
  pid: number;
  /** ISO 8601: when the holder took it. */
  since: string;
}

/** Who this process is, as a lock record names it; tests pretend to be another process. */
export interface LockIdentity {
  host: string;
  pid: number;
}

export function thisProcess(overrides: Partial<LockIdentity> = {}): LockIdentity {
  return { host: overrides.host ?? os.hostname(), pid: overrides.pid ?? process.pid };
}

/** A record for `identity`, taken now. */
export function newLockRecord(identity: LockIdentity, clock: Clock): LockRecord {
  return { host: identity.host, pid: identity.pid, since: new Date(clock.now()).toISOString() };
}

/** One JSON object and a newline: what goes into the file. */
export function serializeLockRecord(record: LockRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/**
 * Reads a record tolerantly (a BOM, extra fields, a missing `since`); undefined when the
 * text is not one — half-written by a creator that has not finished, or not ours.
 */
export function parseLockRecord<R extends LockRecord = LockRecord>(text: string): R | undefined {
  try {
    const parsed = JSON.parse(text.replace(/^\uFEFF/, "")) as Partial<LockRecord> & Record<string, unknown>;
    if (typeof parsed.host !== "string" || typeof parsed.pid !== "number") return undefined;
    return { ...parsed, host: parsed.host, pid: parsed.pid, since: String(parsed.since ?? "?") } as R;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid exists on this machine. `EPERM` means it exists but
 * belongs to someone else, so it counts as alive; only `ESRCH` proves it is gone.
 */
export function isProcessAlive(pid: number): boolean {
  // 0 and negative pids address process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) !== "ESRCH";
  }
}

/** How a kind of lock goes stale; every kind is judged by {@link judgeLock}. */
export interface StalenessRule {
  /**
   * A lock whose file was not written for this long — by the file server's clock, its
   * mtime, so hosts with skewed clocks agree — is abandoned. Locks held briefly or renewed
   * by a heartbeat have one; the state folder's lock, held for a whole run, has none.
   */
  staleAfterMs?: number;
  /** The folder is local to one machine: a lock written on another host came with a copied folder. */
  localOnly?: boolean;
  /** An unreadable lock older than this is abandoned (its creator writes right after creating it). */
  unreadableAfterMs?: number;
}

/** What was found in a lock file. */
export interface SeenLock<R extends LockRecord = LockRecord> {
  /** The raw text: a takeover removes the file only if it still holds exactly this. */
  text: string;
  record: R | undefined;
  /** The file's mtime: the file server's clock at its last write. */
  mtimeMs: number;
}

export type LockVerdict =
  | { free: false; ageMs: number }
  | {
      free: true;
      ageMs: number;
      /** Why it may be taken: logged by whoever takes it. */
      why: "own-leftover" | "holder-gone" | "stale" | "foreign-host" | "unreadable";
    };

/**
 * The one staleness rule. A lock may be taken over when
 * - it names this host and this pid but this process does not hold it (a restarted
 *   container that got the same pid again) — `own-leftover`;
 * - it names this host and a pid that is gone — `holder-gone`;
 * - the folder is local and it names another host — `foreign-host`;
 * - it was not written for `staleAfterMs` by the file server's clock — `stale`;
 * - it cannot be read and is older than `unreadableAfterMs` — `unreadable`.
 * Otherwise it is held. `serverNow` is "now" by the file server's clock (see `serverNow`).
 */
export function judgeLock(
  seen: SeenLock,
  me: LockIdentity,
  rule: StalenessRule,
  serverNow: number,
  isAlive: (pid: number) => boolean = isProcessAlive,
): LockVerdict {
  const ageMs = Math.max(0, serverNow - seen.mtimeMs);
  const holder = seen.record;
  if (!holder) {
    const grace = rule.unreadableAfterMs ?? 1_000;
    return ageMs > grace ? { free: true, ageMs, why: "unreadable" } : { free: false, ageMs };
  }
  if (holder.host === me.host) {
    if (holder.pid === me.pid) return { free: true, ageMs, why: "own-leftover" };
    if (!isAlive(holder.pid)) return { free: true, ageMs, why: "holder-gone" };
  } else if (rule.localOnly) {
    return { free: true, ageMs, why: "foreign-host" };
  }
  if (rule.staleAfterMs !== undefined && ageMs > rule.staleAfterMs)
    return { free: true, ageMs, why: "stale" };
  return { free: false, ageMs };
}
