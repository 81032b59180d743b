import { promises as fs } from "node:fs";
import { systemClock, sleep, type Clock } from "./clock.js";
import { heldLocks, type LockKind } from "./held-locks.js";
import { lockIo } from "./lock-io.js";
import type { RawLock } from "./lock-io-protocol.js";
import {
  isProcessAlive,
  judgeLock,
  newLockRecord,
  parseLockRecord,
  serializeLockRecord,
  type LockIdentity,
  type LockRecord,
  type LockVerdict,
  type SeenLock,
  type StalenessRule,
} from "./lock-record.js";

export interface AcquireLockOptions {
  kind: LockKind;
  rule: StalenessRule;
  identity: LockIdentity;
  /** Give up after this long (0: one look). */
  timeoutMs: number;
  /**
   * A lock held by a live holder whose record can be read is final: return at once instead
   * of waiting (the state folder's lock is held for a whole run). Unreadable locks are still
   * waited for, since their creator is writing them.
   */
  refuseHeld?: boolean;
  clock?: Clock;
  isAlive?: (pid: number) => boolean;
  /** Called once per lock seen that is taken over, with why (for a log line). */
  onTakeover?: (seen: SeenLock, verdict: Extract<LockVerdict, { free: true }>) => void;
}

/** A lock file this process created and holds. */
export interface HeldLockFile {
  readonly file: string;
  readonly record: LockRecord;
  /** Removes the file if it still holds our record; false when it did not (no longer ours). Safe to call twice. */
  release(): Promise<boolean>;
}

export type AcquireResult = { ok: true; lock: HeldLockFile } | { ok: false; seen: SeenLock | undefined };

/** A takeover guard is held for a few file operations; one this old belongs to a crashed process. */
const GUARD_STALE_MS = 5_000;

/**
 * Takes a lock file (`O_EXCL` create holding a {@link LockRecord}), waiting up to
 * `timeoutMs` while someone else holds it and taking it over when {@link judgeLock} says its
 * holder is gone. The one way every lock of ours is taken: the mailbox's `<file>.lock`, the
 * state folder's `bridge.lock`, the lease's guard.
 *
 * The file operations run in the lock I/O thread (`lock-io.ts`), each a burst of synchronous
 * calls that never waits; the waiting happens here, per file, so a busy lock on one inbox
 * never delays an append to another. Only the `O_EXCL` create makes a lock. Removing an
 * abandoned one happens under a short guard (`<lock>.takeover`, also `O_EXCL`) and only if
 * the file still holds exactly what was judged, so two processes judging the same dead lock
 * cannot remove a fresh one.
 */
export async function acquireLockFile(file: string, options: AcquireLockOptions): Promise<AcquireResult> {
  const clock = options.clock ?? systemClock;
  const record = newLockRecord(options.identity, clock);
  const body = serializeLockRecord(record);
  const outcome = await takeWith(file, options, clock, async () => {
    const reply = await lockIo.request({ op: "create", file, body });
    return reply.created ? { taken: true } : { taken: false, found: reply.found };
  });
  if (!outcome.ok) return outcome;
  heldLocks.claim({ file, kind: options.kind, ...options.identity, since: clock.now() });
  return { ok: true, lock: heldLockFile(file, body, record, options, clock) };
}

/**
 * Appends `text` (whole lines, one write) to `file` under `<file>.lock`: lock, append and
 * unlock in one round trip to the lock I/O thread while the lock is free, the same wait and
 * takeover as {@link acquireLockFile} while it is not. False when it stayed held.
 */
export async function appendUnderLockFile(
  file: string,
  text: string,
  options: AcquireLockOptions,
  unlessIds?: string[],
): Promise<{ ok: true } | { ok: false; seen: SeenLock | undefined }> {
  const clock = options.clock ?? systemClock;
  const lockFile = `${file}.lock`;
  // This process's own appends to the file queue on a promise, not on the file system.
  return heldLocks.serialize(lockFile, async () => {
    const body = serializeLockRecord(newLockRecord(options.identity, clock));
    const outcome = await takeWith(lockFile, options, clock, async () => {
      const reply = await lockIo.request({
        op: "append",
        lockFile,
        body,
        file,
        text,
        ...(unlessIds ? { unlessIds } : {}),
      });
      return reply.created ? { taken: true } : { taken: false, found: reply.found };
    });
    return outcome.ok ? { ok: true as const } : outcome;
  });
}

/** Runs `fn` while holding the lock; the lock is released whatever `fn` does. */
export async function withLockFile<T>(
  file: string,
  options: AcquireLockOptions,
  onBusy: (seen: SeenLock | undefined) => Error,
  fn: () => Promise<T>,
): Promise<T> {
  // This process's own users of the file queue on a promise, not on the file system.
  return heldLocks.serialize(file, async () => {
    const result = await acquireLockFile(file, options);
    if (!result.ok) throw onBusy(result.seen);
    try {
      return await fn();
    } finally {
      await result.lock.release();
    }
  });
}

/** "Now" by the clock of the file server that holds `file` (the mtime of a file just written there). */
export async function serverNow(file: string, clock: Clock = systemClock): Promise<number> {
  const reply = await lockIo.request({ op: "serverNow", file }).catch(() => undefined);
  return reply?.now ?? clock.now();
}

type Attempt = () => Promise<{ taken: boolean; found?: RawLock }>;

/** The wait-judge-take-over loop around one kind of attempt. */
async function takeWith(
  file: string,
  options: AcquireLockOptions,
  clock: Clock,
  attempt: Attempt,
): Promise<{ ok: true } | { ok: false; seen: SeenLock | undefined }> {
  const isAlive = options.isAlive ?? isProcessAlive;
  const deadline = clock.now() + options.timeoutMs;
  const said = new Set<string>();
  for (let round = 0; ; round++) {
    const result = await attempt();
    if (result.taken) return { ok: true };
    if (!result.found) continue; // Released since our create failed: try again at once.
    const seen: SeenLock = {
      text: result.found.text,
      record: parseLockRecord(result.found.text),
      mtimeMs: result.found.mtimeMs,
    };
    // The local clock decides cheaply; before giving up (and now and then) ask the file
    // server's, in case ours runs behind it.
    const outOfTime = clock.now() >= deadline;
    let verdict = judgeLock(seen, options.identity, options.rule, clock.now(), isAlive);
    if (!verdict.free && options.rule.staleAfterMs !== undefined && (outOfTime || round % 50 === 49)) {
      verdict = judgeLock(seen, options.identity, options.rule, await serverNow(file, clock), isAlive);
    }
    if (verdict.free) {
      if (!said.has(seen.text)) {
        said.add(seen.text);
        options.onTakeover?.(seen, verdict);
      }
      await removeIfStill(file, seen.text, options.identity, isAlive, clock);
      continue;
    }
    if (outOfTime || (options.refuseHeld && seen.record)) return { ok: false, seen };
    // Locks are held for microseconds to milliseconds: wait a little, jittered, growing slowly.
    const waitMs = Math.min(5, 0.5 + round / 10) * (0.5 + Math.random());
    await sleep(clock, Math.min(waitMs, Math.max(1, deadline - clock.now())));
  }
}

function heldLockFile(
  file: string,
  body: string,
  record: LockRecord,
  options: AcquireLockOptions,
  clock: Clock,
): HeldLockFile {
  const takenAt = clock.now();
  let released = false;
  return {
    file,
    record,
    release: async () => {
      if (released) return true;
      released = true;
      heldLocks.release(file, options.identity);
      // Only our own record is removed: a lock taken over from us (we froze past its
      // staleness) belongs to someone else now. Nobody can judge it stale before half its
      // age limit, so a lock held briefly — nearly every one — skips that comparison.
      const staleAfter = options.rule.staleAfterMs;
      const mayBeTaken = staleAfter === undefined || clock.now() - takenAt >= staleAfter / 2;
      const reply = await lockIo.request({ op: "remove", file, ...(mayBeTaken ? { onlyIf: body } : {}) });
      return reply.removed ?? false;
    },
  };
}

async function removeIfStill(
  file: string,
  judged: string,
  me: LockIdentity,
  isAlive: (pid: number) => boolean,
  clock: Clock,
): Promise<void> {
  const guardBody = serializeLockRecord(newLockRecord(me, clock));
  const reply = await lockIo.request({ op: "removeIfStill", file, judged, guardBody });
  if (reply.removed || !reply.guard) return;
  // Someone else is taking the same lock over right now, or crashed doing it.
  const guard: SeenLock = {
    text: reply.guard.text,
    record: parseLockRecord(reply.guard.text),
    mtimeMs: reply.guard.mtimeMs,
  };
  const rule = { staleAfterMs: GUARD_STALE_MS, unreadableAfterMs: GUARD_STALE_MS };
  if (judgeLock(guard, me, rule, clock.now(), isAlive).free) {
    await lockIo.request({ op: "remove", file: `${file}.takeover`, onlyIf: guard.text });
  } else {
    await sleep(clock, 2 + Math.random() * 8);
  }
}

/**
 * What a lock file holds now, read on this thread (the lease reads its own file this way);
 * undefined when there is none. `parse` reads the record (the lease's has a heartbeat too).
 */
export async function readLockFile<R extends LockRecord = LockRecord>(
  file: string,
  parse: (text: string) => R | undefined = parseLockRecord<R>,
): Promise<SeenLock<R> | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    return { text, record: parse(text), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
