/**
 * A sliding window of call *starts*: at most `limit` starts within any `windowMs`. A start
 * at `t` counts until `t + windowMs`, the same rule Feishu (and the emulator) apply, so
 * pacing with it never trips their limit — and never waits when there is budget, which a
 * fixed `1000 / qps` spacing would (it turns 5 QPS with latency into 4).
 */
export class RateWindow {
  // Oldest first; never longer than `limit`, since older starts no longer decide anything.
  private readonly starts: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!(limit >= 1)) throw new RangeError("limit must be at least 1");
  }

  /** Milliseconds until one more start is allowed; 0 when there is budget now. */
  delayMs(now: number): number {
    this.prune(now);
    if (this.starts.length < this.limit) return 0;
    return this.starts[0]! + this.windowMs - now;
  }

  /** Counts a start; call it right before the request goes out. */
  record(now: number): void {
    this.prune(now);
    this.starts.push(now);
    if (this.starts.length > this.limit) this.starts.shift();
  }

  /** Milliseconds until no start counts any more (0: the window is empty). */
  clearsInMs(now: number): number {
    this.prune(now);
    const last = this.starts[this.starts.length - 1];
    return last === undefined ? 0 : last + this.windowMs - now;
  }

  private prune(now: number): void {
    while (this.starts.length > 0 && this.starts[0]! <= now - this.windowMs) this.starts.shift();
  }
}
