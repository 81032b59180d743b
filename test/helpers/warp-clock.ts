import type { Clock, TimerHandle } from "../../src/core/index.js";

interface WarpTimer extends TimerHandle {
  at: number;
  readonly every: number | undefined;
  readonly callback: () => void;
  real?: NodeJS.Timeout;
  unrefd: boolean;
}

/**
 * Real time that a test can jump ahead: `now()` is the wall clock plus every `warp` so
 * far, and timers run on real timers until a warp makes them due, when they fire at once
 * (in time order). For a whole bridge whose slow timers (a 15 s pairing retry) a test
 * cannot wait for, while everything else keeps running in real time.
 */
export class WarpClock implements Clock {
  private offset = 0;
  private readonly timers = new Set<WarpTimer>();

  now(): number {
    return Date.now() + this.offset;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle as WarpTimer | undefined;
    if (!timer || !this.timers.has(timer)) return;
    clearTimeout(timer.real);
    this.timers.delete(timer);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Moves time `ms` ahead: every timer due by then fires now, the others come closer. */
  warp(ms: number): void {
    this.offset += Math.max(0, ms);
    for (const timer of [...this.timers].sort((a, b) => a.at - b.at)) this.arm(timer);
  }

  private add(callback: () => void, ms: number, every: number | undefined): WarpTimer {
    const timer: WarpTimer = {
      at: this.now() + Math.max(0, ms),
      every,
      callback,
      unrefd: false,
      unref: () => {
        timer.unrefd = true;
        timer.real?.unref();
        return timer;
      },
    };
    this.timers.add(timer);
    this.arm(timer);
    return timer;
  }

  private arm(timer: WarpTimer): void {
    clearTimeout(timer.real);
    timer.real = setTimeout(() => this.fire(timer), Math.max(0, timer.at - this.now()));
    if (timer.unrefd) timer.real.unref();
  }

  private fire(timer: WarpTimer): void {
    if (!this.timers.has(timer)) return;
    if (timer.every === undefined) {
      this.timers.delete(timer);
    } else {
      // A warp over several periods fires an interval once, as a busy event loop would.
      timer.at = Math.max(timer.at + timer.every, this.now() + 1);
      this.arm(timer);
    }
    timer.callback();
  }
}
