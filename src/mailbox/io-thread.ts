import { Worker } from "node:worker_threads";
import { ClawbridgeError } from "../core/index.js";

export interface LockOptions {
  /** A lock whose file's mtime (the server's clock) is older than this is stale and broken. */
  staleMs: number;
  /** Give up after this long; the error names the holder. */
  timeoutMs?: number;
}

export interface LockHolder {
  host: string;
  pid: number;
  since: string;
}

interface Reply {
  id: number;
  ok: boolean;
  code?: string;
  message?: string;
  holder?: LockHolder;
}

/**
 * The main-thread side of `io-thread.cjs`: one worker per process, started on first use and
 * not keeping the process alive while idle. Requests are served in order.
 */
class IoThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: () => void; reject: (error: Error) => void; file: string; staleMs: number }
  >();

  request(
    op: "lock" | "unlock" | "append",
    file: string,
    options: LockOptions,
    text?: string,
  ): Promise<void> {
    const worker = this.start();
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? Math.max(5_000, options.staleMs * 2);
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, file, staleMs: options.staleMs });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, op, file, staleMs: options.staleMs, timeoutMs, text });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL("./io-thread.cjs", import.meta.url));
    worker.unref();
    worker.on("message", (reply: Reply) => this.settle(reply));
    worker.on("error", (error) => this.failAll(error));
    worker.on("exit", () => {
      this.worker = undefined;
      this.failAll(new Error("the mailbox I/O thread stopped"));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) return waiter.resolve();
    if (reply.code === "CB_MAILBOX_LOCKED") {
      const holder = reply.holder;
      waiter.reject(
        new ClawbridgeError(
          "CB_MAILBOX_LOCKED",
          `${waiter.file}.lock is held${holder ? ` by pid ${holder.pid} on ${holder.host} since ${holder.since}` : ""}`,
          {
            fix: `wait and retry; if that process is gone the lock turns stale after ${waiter.staleMs} ms (or delete the .lock file)`,
            details: { lockFile: `${waiter.file}.lock`, holder },
          },
        ),
      );
      return;
    }
    waiter.reject(
      new ClawbridgeError("CB_MAILBOX_IO", `${waiter.file}: ${reply.message ?? reply.code}`, {
        fix: "check that the shared folder is mounted and writable",
        details: { errno: reply.code },
      }),
    );
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      waiter.reject(new ClawbridgeError("CB_MAILBOX_IO", error.message, { cause: error }));
    }
  }
}

const ioThread = new IoThread();

/** Appends whole lines under the file's lock, in one write (see io-thread.cjs). */
export function appendUnderLock(file: string, text: string, options: LockOptions): Promise<void> {
  return ioThread.request("append", file, options, text);
}

/** Runs `fn` while holding `<file>.lock`. */
export async function withFileLock<T>(file: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  await ioThread.request("lock", file, options);
  try {
    return await fn();
  } finally {
    await ioThread.request("unlock", file, options);
  }
}
