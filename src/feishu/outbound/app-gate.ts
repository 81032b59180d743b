import type { Clock } from "../../core/index.js";
import { RateWindow, type WindowEntry } from "./rate-window.js";

interface Waiter {
  resolve: (entry: WindowEntry) => void;
  reject: (error: Error) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * The app-wide budget every call passes through: a sliding window of `appQps` starts plus
 * an app-wide pause after Feishu's 99991400. Waiters are served first come, first served,
 * so a busy chat cannot starve a quiet one when the app budget is the bottleneck.
 */
export class AppGate {
  private readonly window: RateWindow;
  private readonly waiters: Waiter[] = [];
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    appQps: number,
    windowMs: number,
    private readonly clock: Clock,
  ) {
    this.window = new RateWindow(appQps, windowMs);
  }

  /**
   * Resolves when the caller may start one call (and counts it); `settle` the entry when the
   * call's answer comes. Rejects on abort.
   */
  acquire(signal: AbortSignal): Promise<WindowEntry> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    const now = this.clock.now();
    if (this.waiters.length === 0 && this.waitMs(now) <= 0) {
      return Promise.resolve(this.window.record(now));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          // Nobody left to serve: a pending pump timer would only hold the process open.
          if (this.waiters.length === 0 && this.timer) {
            clearTimeout(this.timer);
            this.timer = undefined;
            this.timerAt = Number.POSITIVE_INFINITY;
          }
          reject(signal.reason as Error);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.schedule(this.waitMs(now), now);
    });
  }

  /** The call's answer came: it counts from `now` on. */
  settle(entry: WindowEntry): void {
    this.window.settle(entry, this.clock.now());
    // Someone may be waiting for exactly this slot.
    if (this.waiters.length > 0) this.schedule(this.waitMs(this.clock.now()), this.clock.now());
  }

  /** Holds every call until `until` (Feishu said the whole app is over its quota). */
  pauseUntil(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    // A pump already scheduled earlier will find the pause and reschedule itself.
  }

  /** When the app-wide pause ends (ms since the epoch; in the past when not paused). */
  get pausedUntilMs(): number {
    return this.pausedUntil;
  }

  /** Calls waiting for the app budget. */
  get waiting(): number {
    return this.waiters.length;
  }

  private waitMs(now: number): number {
    return Math.max(this.window.delayMs(now), this.pausedUntil - now);
  }

  private schedule(delayMs: number, now: number): void {
    const at = now + Math.max(0, delayMs);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.pump(), Math.max(0, delayMs));
  }

  private pump(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    while (this.waiters.length > 0) {
      const wait = this.waitMs(now);
      if (wait > 0) {
        this.schedule(wait, now);
        return;
      }
      const waiter = this.waiters.shift()!;
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.window.record(now));
    }
  }
}
