/**
 * The messages between `lock-io.ts` (main thread) and `lock-io-worker.ts` (the lock I/O
 * thread). The worker only performs file operations, each as one synchronous burst that
 * never waits for a lock; every decision (who holds it, whether it is stale, how long to
 * wait) is made on the main thread by `judgeLock`.
 */

/** A lock file as found: its text and the file server's clock at its last write. */
export interface RawLock {
  text: string;
  mtimeMs: number;
}

export type LockIoRequest =
  /** Create `file` with `body` (O_EXCL). */
  | { op: "create"; file: string; body: string }
  /**
   * Create `lockFile`, append `text` whole to `file`, remove `lockFile` — or report the lock
   * found. With `unlessIds` (line i's id), lines whose id `file` holds already are left out.
   */
  | { op: "append"; lockFile: string; body: string; file: string; text: string; unlessIds?: string[] }
  /** Remove `file` if it holds exactly `judged`, under the O_EXCL guard `<file>.takeover`. */
  | { op: "removeIfStill"; file: string; judged: string; guardBody: string }
  /** Remove `file` (only if it holds `onlyIf`, when given). */
  | { op: "remove"; file: string; onlyIf?: string }
  /** "Now" by the clock of the server that holds `file`'s folder. */
  | { op: "serverNow"; file: string };

export type LockIoReply =
  | { ok: true; created?: boolean; found?: RawLock; removed?: boolean; guard?: RawLock; now?: number }
  | { ok: false; errno: string; message: string };

export interface LockIoEnvelope {
  id: number;
  request: LockIoRequest;
}

export interface LockIoAnswer {
  id: number;
  reply: LockIoReply;
}
