/** One counted call: open while it is on the wire, then counted from when its answer came. */
export interface WindowEntry {
  at: number;
  open: boolean;
}

/** How often a full window of calls that are all still on the wire is looked at again. */
const OPEN_RECHECK_MS = 20;

/**
 * A sliding window of calls: at most `limit` within any `windowMs`. Feishu counts a call
 * when it *arrives*, which is somewhere between when we sent it and when its answer came
 * back; so a call counts as "now" while it is on the wire and, once answered, from the
 * answer's time. That is safe whatever the network latency (counting from departure with a
 * fixed margin is not: a slow new connection arrives late and trips the limit), and it
 * never waits when there is budget.
 */
export class RateWindow {
  // At most `limit` entries are kept: older answered calls no longer decide anything.
  private readonly entries: WindowEntry[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!(limit >= 1)) throw new RangeError("limit must be at least 1");
  }

  /** Milliseconds until one more call may start; 0 when there is budget now. */
  delayMs(now: number): number {
    this.prune(now);
    if (this.entries.length < this.limit) return 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.entries) if (!entry.open) earliest = Math.min(earliest, entry.at);
    // Every slot is held by a call still on the wire: look again shortly (its answer frees it).
    return earliest === Number.POSITIVE_INFINITY
      ? OPEN_RECHECK_MS
      : Math.max(1, earliest + this.windowMs - now);
  }

  /** Counts a call right before it goes out; `settle` it when its answer (or failure) comes. */
  record(now: number): WindowEntry {
    this.prune(now);
    const entry: WindowEntry = { at: now, open: true };
    this.entries.push(entry);
    return entry;
  }

  /** The call's answer came: from now on it counts from `now`. */
  settle(entry: WindowEntry, now: number): void {
    entry.at = Math.max(entry.at, now);
    entry.open = false;
  }

  /** Milliseconds until no call counts any more (0: the window is empty). */
  clearsInMs(now: number): number {
    this.prune(now);
    let latest = 0;
    for (const entry of this.entries) {
      latest = Math.max(latest, entry.open ? now + this.windowMs : entry.at + this.windowMs - now);
    }
    return latest === 0 ? 0 : Math.max(0, latest);
  }

  private prune(now: number): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (!entry.open && entry.at <= now - this.windowMs) this.entries.splice(i, 1);
    }
  }
}
