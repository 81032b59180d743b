/**
 * The one source of time. Production code reads the time and sets its timers through an
 * injected `Clock`, so tests of timeouts, backoff, budgets, cool-downs and leases move a
 * {@link ManualClock} by hand instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `ms`. The handle can be `unref`'d like Node's. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `callback` every `ms`. */
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** What a clock's timer functions return: Node's `Timeout` satisfies it. */
export interface TimerHandle {
  /** Lets the process exit while only this timer is pending; returns the handle. */
  unref(): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};

/** Resolves after `ms` on `clock`; an `unref`'d wait does not keep the process alive. */
export function sleep(clock: Clock, ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(resolve, Math.max(0, ms));
    if (options.unref) timer.unref();
  });
}

interface ManualTimer extends TimerHandle {
  readonly id: number;
  at: number;
  readonly every: number | undefined;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock tests move by hand. Timers fire only when the clock is advanced past their time,
 * in time order (ties in the order they were set), each seeing `now()` equal to its own
 * time. `advance` is synchronous; `advanceAsync` also lets promise chains started by a
 * timer settle before the next timer fires, which is what code with `await` inside needs.
 */
export class ManualClock implements Clock {
  private readonly timers = new Map<number, ManualTimer>();
  private nextId = 1;

  constructor(private current = Date.parse("2026-02-14T10:40:00Z")) {}

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle as ManualTimer | undefined;
    if (!timer || typeof timer.id !== "number") return;
    timer.cancelled = true;
    this.timers.delete(timer.id);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the next timer fires, if any. */
  nextTimerAt(): number | undefined {
    return this.due(Number.POSITIVE_INFINITY)?.at;
  }

  /** Moves time forward, firing every timer due on the way. */
  advance(ms: number): void {
    const target = this.current + Math.max(0, ms);
    for (let timer = this.due(target); timer; timer = this.due(target)) this.fire(timer);
    this.current = target;
  }

  /** Like `advance`, letting pending promise callbacks run after each timer. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await flushPromises();
    for (let timer = this.due(target); timer; timer = this.due(target)) {
      this.fire(timer);
      await flushPromises();
    }
    this.current = target;
    await flushPromises();
  }

  /** Jumps to a moment without firing timers on the way (a wall-clock change). */
  set(ms: number): void {
    this.current = ms;
  }

  private add(callback: () => void, ms: number, every: number | undefined): ManualTimer {
    const id = this.nextId++;
    const timer: ManualTimer = {
      id,
      at: this.current + Math.max(0, ms),
      every,
      callback,
      cancelled: false,
      unref: () => timer,
    };
    this.timers.set(id, timer);
    return timer;
  }

  private due(limit: number): ManualTimer | undefined {
    let first: ManualTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.at > limit) continue;
      if (!first || timer.at < first.at || (timer.at === first.at && timer.id < first.id)) first = timer;
    }
    return first;
  }

  private fire(timer: ManualTimer): void {
    this.current = Math.max(this.current, timer.at);
    if (timer.every === undefined) this.timers.delete(timer.id);
    else timer.at += timer.every;
    timer.callback();
  }
}

/** Lets every promise callback queued so far (and those they queue) run. */
async function flushPromises(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function pad(value: number, width = 2): string {
  return String(Math.trunc(Math.abs(value))).padStart(width, "0");
}

/**
 * ISO 8601 in local time with its offset (`2026-02-14T18:40:00.000+08:00`), the form the
 * seed's agents write; `Date#toISOString` would always say `Z`.
 */
export function isoWithOffset(ms: number, offsetMinutes = -new Date(ms).getTimezoneOffset()): string {
  const local = new Date(ms + offsetMinutes * 60_000);
  const sign = offsetMinutes >= 0 ? "+" : "-";
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}`;
  return `${date}T${time}${sign}${pad(offsetMinutes / 60)}:${pad(offsetMinutes % 60)}`;
}
