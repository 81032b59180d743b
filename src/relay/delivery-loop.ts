import {
  backoffDelay,
  isRetryable,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";

/**
 * Works through one persisted outbox: takes items that may start, runs them (up to
 * `concurrency` at once, never two with the same `lane` — a gateway session runs one thing
 * at a time), and retries a failed item with backoff — unless its error says retrying
 * cannot help (`retryable: false`: the gateway rejected the request as invalid, Feishu
 * rejected the message for good). Such an item is handed to `giveUp` (the relay moves it
 * to the dead letters) and its lane goes on: one poisoned item never blocks the rest.
 * `done` is the worker's business: it marks the item done only once its effects are durable.
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
  /** A permanent failure: take the item out of the lane (resolves once that is durable). */
  giveUp: (item: I, error: unknown, failures: number) => Promise<void>;
  /**
   * Whether a failure is final, after `failures` in a row. Defaults to the error's own
   * `retryable` (`isRetryable`); the relay also gives up on an agent run that keeps failing.
   */
  isFinal?: (error: unknown, failures: number) => boolean;
  /** A failure that will be tried again (for the metrics). */
  onRetry?: (item: I, error: unknown, failures: number) => void;
  clock?: Clock;
}

export class DeliveryLoop<I extends LoopItem> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly retryAt = new Map<string, { at: number; failures: number }>();
  private readonly clock: Clock;
  private timer?: TimerHandle;
  private stopped = false;
  private scheduled = false;

  constructor(private readonly options: DeliveryLoopOptions<I>) {
    this.clock = options.clock ?? systemClock;
  }

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
    this.clock.clearTimeout(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Waits for what runs without stopping the loop, and forgets the retry schedule: the
   * target moved to another replica, which starts its own count (see `Relay.release`).
   */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
    this.retryAt.clear();
  }

  get inFlight(): number {
    return this.running.size;
  }

  private pump(): void {
    if (this.stopped || !this.options.available()) return;
    const now = this.clock.now();
    let nextRetry = Number.POSITIVE_INFINITY;
    // Only the oldest item of each lane may run: a session sees its messages in order.
    const lanes = new Set<string>();
    for (const item of this.options.pending()) {
      // Every slot taken: the next completion pumps again (reading on would cost a full scan).
      if (this.running.size >= this.options.concurrency) break;
      if (lanes.has(item.lane)) continue;
      lanes.add(item.lane);
      if (this.running.has(item.id)) continue;
      const retry = this.retryAt.get(item.id);
      if (retry && retry.at > now) {
        nextRetry = Math.min(nextRetry, retry.at);
        continue;
      }
      this.start(item);
    }
    if (nextRetry !== Number.POSITIVE_INFINITY) {
      this.clock.clearTimeout(this.timer);
      this.timer = this.clock.setTimeout(() => this.wake(), Math.max(0, nextRetry - now));
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
        const final = this.options.isFinal ? this.options.isFinal(error, failures) : !isRetryable(error);
        if (final) {
          await this.abandon(item, error, failures);
          return;
        }
        const delay = backoffDelay(failures - 1, { baseMs: 500, maxMs: 30_000 });
        this.retryAt.set(item.id, { at: this.clock.now() + delay, failures });
        this.options.logger.warn(
          { err: error, item: item.id, loop: this.options.name, retryInMs: delay, failures },
          "delivery failed; will retry",
        );
        this.options.onRetry?.(item, error, failures);
      } finally {
        this.running.delete(item.id);
        this.wake();
      }
    })();
    this.running.set(item.id, run);
  }

  private async abandon(item: I, error: unknown, failures: number): Promise<void> {
    try {
      await this.options.giveUp(item, error, failures);
      this.retryAt.delete(item.id);
    } catch (giveUpError) {
      // Could not record the dead letter (the state folder failed): keep the item and retry later.
      const delay = backoffDelay(failures - 1, { baseMs: 500, maxMs: 30_000 });
      this.retryAt.set(item.id, { at: this.clock.now() + delay, failures });
      this.options.logger.error(
        { err: giveUpError, cause: error, item: item.id, loop: this.options.name },
        "could not move a failed delivery to the dead letters; will retry it",
      );
    }
  }
}
