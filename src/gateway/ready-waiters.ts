import type { ClawbridgeError, Clock } from "../core/index.js";

interface Waiter {
  resolve: () => void;
  reject: (error: ClawbridgeError) => void;
  /** Gives up as soon as one attempt fails, instead of waiting for a later one. */
  failFast: boolean;
}

/** Callers of `ready()` waiting for the link, each with its own deadline on the clock. */
export class ReadyWaiters {
  private waiters: Waiter[] = [];

  constructor(private readonly clock: Clock) {}

  /** Resolves when `resolveAll` is called; rejects after `timeoutMs` with `timedOut()`. */
  wait(timeoutMs: number, failFast: boolean, timedOut: () => ClawbridgeError): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(timedOut());
      }, timeoutMs);
      const waiter: Waiter = {
        failFast,
        resolve: () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  resolveAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  rejectAll(error: ClawbridgeError): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** An attempt failed without an answer from the gateway: only fail-fast waiters give up. */
  rejectFailFast(error: () => ClawbridgeError): void {
    const failing = this.waiters.filter((w) => w.failFast);
    if (failing.length === 0) return;
    this.waiters = this.waiters.filter((w) => !w.failFast);
    const reason = error();
    for (const waiter of failing) waiter.reject(reason);
  }
}
