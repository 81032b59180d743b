import { Worker } from "node:worker_threads";
import { ClawbridgeError } from "./errors.js";
import type { LockIoAnswer, LockIoReply, LockIoRequest } from "./lock-io-protocol.js";

type Ok = Extract<LockIoReply, { ok: true }>;

/**
 * The main-thread side of `lock-io-worker.ts`: one worker per process, started on first use
 * and not keeping the process alive while idle. Requests are answered in order, each at
 * once (the worker never waits for a lock), so requests for different files never hold
 * each other up.
 */
class LockIo {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (reply: Ok) => void; reject: (error: Error) => void }
  >();

  request(request: LockIoRequest): Promise<Ok> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Ok>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, request });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker();
    worker.unref();
    worker.on("message", ({ id, reply }: LockIoAnswer) => this.settle(id, reply));
    worker.on("error", (error) => this.failAll(error));
    worker.on("exit", () => {
      this.worker = undefined;
      this.failAll(new Error("the lock I/O thread stopped"));
    });
    this.worker = worker;
    return worker;
  }

  private settle(id: number, reply: LockIoReply): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(Object.assign(new Error(reply.message), { code: reply.errno }));
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      waiter.reject(new ClawbridgeError("CB_INTERNAL", error.message, { cause: error }));
    }
  }
}

/**
 * The built worker is plain JavaScript beside this file. Run from the TypeScript sources
 * (tests, `tsx`), the worker is TypeScript too: a one-line loader registers tsx (a
 * development dependency) in the worker first.
 */
function spawnWorker(): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const url = new URL(`./lock-io-worker.${fromSources ? "ts" : "js"}`, import.meta.url);
  if (!fromSources) return new Worker(url);
  // Resolved here, from this file: an eval'd worker resolves bare names from the working
  // folder, where tsx is not installed when a command runs elsewhere (a temp folder).
  const tsx = import.meta.resolve("tsx/esm/api");
  const loader = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(loader, { eval: true });
}

export const lockIo = new LockIo();
