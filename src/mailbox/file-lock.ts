import {
  appendUnderLockFile,
  ClawbridgeError,
  isClawbridgeError,
  systemClock,
  thisProcess,
  withLockFile,
  type Clock,
  type LockIdentity,
  type LockVerdict,
  type Logger,
  type SeenLock,
} from "../core/index.js";
import { mailboxMessages } from "./messages.js";

export interface LockOptions {
  /** A lock whose file's mtime (the server's clock) is older than this is stale and broken. */
  staleMs: number;
  /** Give up after this long; the error names the holder. Default: max(5 s, 2 × staleMs). */
  timeoutMs?: number;
  clock?: Clock;
  /** Defaults to this process; tests pretend to be another writer. */
  identity?: LockIdentity;
  /** Where a lock taken over from a writer that died holding it is said. */
  logger?: Logger;
}

const t = mailboxMessages;

/**
 * Runs `fn` while holding `<file>.lock` (see `acquireLockFile`): the shared folder's
 * protocol for writers. Each file's lock is independent: a busy lock on one inbox never
 * delays work on another.
 */
export function withFileLock<T>(file: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lockFile = `${file}.lock`;
  return withLockFile(
    lockFile,
    lockOptions(options, lockFile),
    (seen) => lockedError(lockFile, seen, options.staleMs),
    fn,
  );
}

/**
 * Appends whole lines under the file's lock, in one write. A newline goes first when the
 * file does not end with one: a writer that died mid-line leaves a fragment that becomes a
 * line of its own (quarantined by readers) instead of swallowing ours.
 */
export async function appendUnderLock(
  file: string,
  text: string,
  options: LockOptions,
  unlessIds?: string[],
): Promise<void> {
  const result = await appendUnderLockFile(file, text, lockOptions(options, `${file}.lock`), unlessIds).catch(
    (error: unknown) => {
      throw isClawbridgeError(error) ? error : ioError(file, error);
    },
  );
  if (!result.ok) throw lockedError(`${file}.lock`, result.seen, options.staleMs);
}

function lockOptions(options: LockOptions, lockFile: string) {
  return {
    kind: "file" as const,
    rule: { staleAfterMs: options.staleMs, unreadableAfterMs: options.staleMs },
    identity: options.identity ?? thisProcess(),
    timeoutMs: options.timeoutMs ?? Math.max(5_000, options.staleMs * 2),
    clock: options.clock ?? systemClock,
    // A writer died holding the lock (an agent killed mid-append): worth a line, since
    // every writer of that file waited for it until now.
    onTakeover: (seen: SeenLock, verdict: Extract<LockVerdict, { free: true }>) =>
      options.logger?.warn(
        { holder: seen.record, why: verdict.why, ageMs: Math.round(verdict.ageMs) },
        `took over the lock ${lockFile} ${takeoverText(seen, verdict, options.staleMs)}`,
      ),
  };
}

function takeoverText(
  seen: SeenLock,
  verdict: Extract<LockVerdict, { free: true }>,
  staleMs: number,
): string {
  const holder = seen.record
    ? `of pid ${seen.record.pid} on ${seen.record.host}`
    : "with an unreadable record";
  const seconds = (ms: number) => Math.round(ms / 100) / 10;
  const why =
    verdict.why === "holder-gone"
      ? "that process is gone"
      : verdict.why === "own-leftover"
        ? "it is this process's own leftover"
        : `not written for ${seconds(verdict.ageMs)} s (mailbox.lockStaleMs is ${seconds(staleMs)} s)`;
  return `${holder}: ${why}`;
}

function lockedError(lockFile: string, seen: SeenLock | undefined, staleMs: number): ClawbridgeError {
  const holder = seen?.record;
  return new ClawbridgeError(
    "CB_MAILBOX_LOCKED",
    holder
      ? t.text("lockHeldBy", { lockFile, pid: holder.pid, host: holder.host, since: holder.since })
      : t.text("lockHeld", { lockFile }),
    { fix: t.text("lockHeldFix", { staleMs }), details: { lockFile, ...(holder ? { holder } : {}) } },
  );
}

function ioError(file: string, cause: unknown): ClawbridgeError {
  const errno = (cause as NodeJS.ErrnoException).code;
  return new ClawbridgeError(
    "CB_MAILBOX_IO",
    t.text("ioFailed", { file, reason: (cause as Error).message }),
    { fix: t.text("ioFailedFix"), details: { file, ...(errno ? { errno } : {}) }, cause },
  );
}
