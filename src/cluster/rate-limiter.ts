import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { RedisStore } from "./redis-client.js";

/** One sliding window: at most `limit` calls under `key` within any `windowMs`. */
export interface RateLimitWindow {
  /** Becomes the Redis key `<prefix>rate:<key>` (e.g. `app`, `chat:oc_…`, `message:om_…`). */
  key: string;
  limit: number;
  windowMs: number;
}

/** Counted (`at`: Redis' time of the take, ms since the epoch), or how long until all windows could have room. */
export type RateTake = { ok: true; token: string; at: number } | { ok: false; waitMs: number };

export interface SharedRateLimiterOptions {
  /**
   * How long a taken call counts as "on the wire" if it is never settled (its replica died
   * mid-call). Longer than any Feishu request (10 s by default). Default 30 s.
   */
  holdMs?: number;
  /** A take or settle that Redis has not answered by then fails (the caller falls back). Default 1 s. */
  timeoutMs?: number;
}

const DEFAULT_HOLD_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 1_000;
/** As RateWindow: when every slot is held by a call still on the wire, look again this soon. */
const OPEN_RECHECK_MS = 20;

// Redis' clock, not the replicas': they may run on machines whose clocks disagree. Scores are
// ms with µs decimals. An entry scored in the future is a call on the wire (see the class).
const NOW_LUA = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;

/**
 * KEYS: one ZSET per window. ARGV: member, holdMs, recheckMs, then limit and windowMs per key.
 * Returns {1, now} when the member was added to every key, {0, waitMs} when nothing was.
 */
const TAKE_LUA = `${NOW_LUA}
local hold = tonumber(ARGV[2])
local recheck = tonumber(ARGV[3])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%.3f", now - window))
  local count = redis.call("ZCARD", key)
  if count >= limit then
    -- Room comes when the (count - limit + 1)th oldest entry leaves the window.
    local blocker = redis.call("ZRANGE", key, count - limit, count - limit, "WITHSCORES")
    local at = tonumber(blocker[2])
    local w = recheck
    if at <= now then w = at + window - now end
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, math.ceil(wait)} end
local score = string.format("%.3f", now + hold)
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call("ZADD", key, score, ARGV[1])
  local newest = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
  redis.call("PEXPIRE", key, math.ceil(tonumber(newest[2]) + window - now))
end
return {1, string.format("%.3f", now)}
`;

/** KEYS: the windows' ZSETs. ARGV: member, then windowMs per key. Re-scores the member to now. */
const SETTLE_LUA = `${NOW_LUA}
local at = string.format("%.3f", now)
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[1 + i])
  redis.call("ZADD", key, "XX", at, ARGV[1])
  local newest = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
  if newest[2] then redis.call("PEXPIRE", key, math.max(1, math.ceil(tonumber(newest[2]) + window - now))) end
end
return 1
`;

type Arg = string | number;
interface RateScripts {
  clawbridgeRateTake(numKeys: number, ...args: Arg[]): Promise<[number, number | string]>;
  clawbridgeRateSettle(numKeys: number, ...args: Arg[]): Promise<number>;
}

/**
 * Feishu's rate budgets shared by every replica: a sliding-window log per key (a ZSET of
 * calls scored by time), taken atomically across several windows (the app's and a chat's)
 * by one Lua script. It keeps the semantics of feishu/'s `RateWindow` — a call counts as
 * "now" while it is on the wire and from its answer's time once settled, because Feishu
 * counts it when it arrives, somewhere in between — as far as a shared store allows:
 *
 * - Time is Redis' `TIME`, not the caller's clock, so replicas with skewed clocks agree.
 * - "On the wire" is a score `holdMs` in the future rather than an open flag: a replica that
 *   dies mid-call cannot settle, and its calls must not hold their slots forever. After
 *   `holdMs` an unsettled call counts from then and leaves the window `windowMs` later.
 * - Keys expire (PEXPIRE) once their newest entry has left the window: idle chats vanish.
 * - A take that times out may still be applied later (ioredis resends after a reconnect); a
 *   `ZREM` queued behind it on the same connection gives the slot back.
 * - All keys of one take must live on one Redis node (no Redis Cluster slot routing).
 *
 * It matches feishu/'s `SharedLimits` structurally (cluster/ does not import feishu/).
 */
export class SharedRateLimiter {
  private readonly holdMs: number;
  private readonly timeoutMs: number;
  private readonly scripts: RateScripts;

  constructor(
    private readonly store: RedisStore,
    options: SharedRateLimiterOptions = {},
  ) {
    this.holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.holdMs > 0)) throw new RangeError("holdMs must be positive");
    if (!(this.timeoutMs > 0)) throw new RangeError("timeoutMs must be positive");
    this.scripts = defineScripts(store.client);
  }

  /**
   * Counts one call in every window if each has room now (all or none), else answers the
   * shortest wait after which all could. Rejects when Redis is down or slow (`timeoutMs`).
   */
  async take(windows: readonly RateLimitWindow[]): Promise<RateTake> {
    checkWindows(windows);
    const token = randomUUID();
    const keys = windows.map((w) => this.store.key("rate", w.key));
    const args = windows.flatMap((w) => [w.limit, w.windowMs]);
    const [ok, value] = await this.bounded(
      "take",
      () =>
        this.scripts.clawbridgeRateTake(keys.length, ...keys, token, this.holdMs, OPEN_RECHECK_MS, ...args),
      () => {
        for (const key of keys) this.store.client.zrem(key, token).catch(() => undefined);
      },
    );
    return ok === 1 ? { ok: true, token, at: Number(value) } : { ok: false, waitMs: Number(value) };
  }

  /** The call's answer came (or it failed): it counts from Redis' time now instead of "on the wire". */
  async settle(token: string, windows: readonly RateLimitWindow[]): Promise<void> {
    checkWindows(windows);
    const keys = windows.map((w) => this.store.key("rate", w.key));
    await this.bounded("settle", () =>
      this.scripts.clawbridgeRateSettle(keys.length, ...keys, token, ...windows.map((w) => w.windowMs)),
    );
  }

  // The store waits through outages; a rate limiter must not (its caller falls back instead).
  private async bounded<T>(what: string, call: () => Promise<T>, onTimeout?: () => void): Promise<T> {
    if (!this.store.up()) throw new Error(`shared rate limiter: Redis is not connected (${what})`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(
          new Error(`shared rate limiter: Redis did not answer the ${what} within ${this.timeoutMs} ms`),
        );
      }, this.timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([call(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function defineScripts(client: Redis): RateScripts {
  if (!("clawbridgeRateTake" in client)) client.defineCommand("clawbridgeRateTake", { lua: TAKE_LUA });
  if (!("clawbridgeRateSettle" in client)) client.defineCommand("clawbridgeRateSettle", { lua: SETTLE_LUA });
  return client as unknown as RateScripts;
}

function checkWindows(windows: readonly RateLimitWindow[]): void {
  if (windows.length === 0) throw new RangeError("at least one window is needed");
  for (const w of windows) {
    if (typeof w.key !== "string" || w.key === "") throw new RangeError("a window needs a key");
    if (!(w.limit >= 1)) throw new RangeError(`window ${w.key}: limit must be at least 1`);
    if (!(w.windowMs > 0)) throw new RangeError(`window ${w.key}: windowMs must be positive`);
  }
}
