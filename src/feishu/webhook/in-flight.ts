/** How a tracked task ended; tracked tasks never reject. */
export type Settled<T> = { ok: true; value: T; ms: number } | { ok: false; error: unknown; ms: number };

/**
 * Work started by a request that outlives its response (event handlers, slow card
 * handlers). Shutdown awaits it with `drain` instead of cutting handlers off mid-way.
 */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Number of tasks still running. */
  get size(): number {
    return this.pending.size;
  }

  /** Runs `task` (after the current turn when `defer`), tracks it, and reports how it ended. */
  run<T>(task: () => T | Promise<T>, { defer = false }: { defer?: boolean } = {}): Promise<Settled<T>> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const tracked = (async (): Promise<Settled<T>> => {
      // `setImmediate` lets the HTTP answer go out before a handler's synchronous part runs.
      if (defer) await new Promise((resolve) => setImmediate(resolve));
      try {
        return { ok: true, value: await task(), ms: ms() };
      } catch (error) {
        return { ok: false, error, ms: ms() };
      }
    })();
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
    return tracked;
  }

  /**
   * Resolves when nothing is running — including tasks started while draining — or, with
   * `timeoutMs`, when that time is up. Returns whether everything finished.
   */
  async drain(timeoutMs?: number): Promise<boolean> {
    const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
    while (this.pending.size > 0) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      const all = Promise.all(this.pending).then(() => true);
      if (remaining === Infinity) {
        await all;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), remaining)));
      const finished = await Promise.race([all, timedOut]);
      clearTimeout(timer);
      if (!finished) return false;
    }
    return true;
  }
}
