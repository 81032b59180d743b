import type { Clock } from "../../core/index.js";
import { abortableSleep } from "./abortable-sleep.js";
import { RateWindow, type WindowEntry } from "./rate-window.js";
import type { SharedLimitWindow } from "./shared-limits.js";

/**
 * The budget of one chat (sends) or one message (patches): a rate window plus a pause after
 * Feishu said this key is over its limit or a call failed. It has one user at a time — the
 * lane or slot that owns it — so "wait until free, then record" cannot race.
 */
export class KeyPacer {
  /** The same budget as other replicas see it (cluster mode): `chat:<id>` or `message:<id>`. */
  readonly shared: SharedLimitWindow;
  private readonly window: RateWindow;
  private pausedUntil = 0;

  constructor(
    key: string,
    limit: number,
    windowMs: number,
    private readonly clock: Clock,
  ) {
    this.window = new RateWindow(limit, windowMs);
    this.shared = { key, limit, windowMs };
  }

  /**
   * Resolves `true` once the key has budget and is not paused, or `false` at once if that
   * will not happen by `deadline` (no point waiting for a start that would be too late).
   * Rejects with the abort reason.
   */
  async ready(signal: AbortSignal, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      if (signal.aborted) throw signal.reason as Error;
      const now = this.clock.now();
      const wait = Math.max(this.window.delayMs(now), this.pausedUntil - now);
      if (wait <= 0) return true;
      if (now + wait > deadline) return false;
      await abortableSleep(wait, signal);
    }
  }

  /** Counts a call (right before it goes out); settle the entry when its answer comes. */
  record(now: number): WindowEntry {
    return this.window.record(now);
  }

  settle(entry: WindowEntry, now: number): void {
    this.window.settle(entry, now);
  }

  /** No start before `until` (a rate limit's reset, or a backoff). */
  pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  /** Milliseconds until forgetting this key loses nothing (no start counts, no pause runs). */
  forgettableInMs(now: number): number {
    return Math.max(0, this.window.clearsInMs(now), this.pausedUntil - now);
  }
}
