import type { Logger } from "../core/index.js";
import { backoffDelay } from "../core/index.js";

/**
 * Works through one persisted outbox: takes items that may start, runs them (up to
 * `concurrency` at once, never two with the same `lane` — a gateway session runs one thing
 * at a time), and retries a failed item with backoff. `done` is the worker's business:
 * it marks the item done only once its effects are durable.
 */
export interface LoopItem {
  id: string;
  lane: string;
}

export interface DeliveryLoopOptions<I extends LoopItem> {
  name: string;
  logger: Logger;
  concurrency: number;
  /**
   * Items waiting, oldest first — at least the oldest of each lane (the others may be left
   * out: only a lane's oldest may start). Read lazily: `pump` stops once every slot is taken.
   */
  pending: () => Iterable<I>;
  /** False while the target cannot take work (a gateway offline): the loop waits for `wake`. */
  available: () => boolean;
  work: (item: I) => Promise<void>;
}

export class DeliveryLoop<I extends LoopItem> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly retryAt = new Map<string, { at: number; failures: number }>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private scheduled = false;

  constructor(private readonly options: DeliveryLoopOptions<I>) {}

  /** Something changed (new item, target back online): look again. */
  wake(): void {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Stops starting work; waits for what runs (bounded by the caller). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  get inFlight(): number {
    return this.running.size;
  }

  private pump(): void {
    if (this.stopped || !this.options.available()) return;
    const now = Date.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    // Only the oldest item of each lane may run: a session sees its messages in order.
    const lanes = new Set<string>();
    for (const item of this.options.pending()) {
      // Every slot taken: the next completion pumps again (reading on would cost a full scan).
      if (this.running.size >= this.options.concurrency) break;
      if (lanes.has(item.lane)) continue;
      lanes.add(item.lane);
      if (this.running.has(item.id)) continue;
      if (this.running.size >= this.options.concurrency) break;
      const retry = this.retryAt.get(item.id);
      if (retry && retry.at > now) {
        nextRetry = Math.min(nextRetry, retry.at);
        continue;
      }
      this.start(item);
    }
    if (nextRetry !== Number.POSITIVE_INFINITY) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.wake(), Math.max(0, nextRetry - now));
      this.timer.unref();
    }
  }

  private start(item: I): void {
    const run = (async () => {
      try {
        await this.options.work(item);
        this.retryAt.delete(item.id);
      } catch (error) {
        const failures = (this.retryAt.get(item.id)?.failures ?? 0) + 1;
        const delay = backoffDelay(failures - 1, { baseMs: 500, maxMs: 30_000 });
        this.retryAt.set(item.id, { at: Date.now() + delay, failures });
        this.options.logger.warn(
          { err: error, item: item.id, loop: this.options.name, retryInMs: delay, failures },
          "delivery failed; will retry",
        );
      } finally {
        this.running.delete(item.id);
        this.wake();
      }
    })();
    this.running.set(item.id, run);
  }
}
