import { describe, expect, it } from "vitest";
import { RedisStore } from "../../../src/cluster/redis-client.js";
import {
  SharedRateLimiter,
  type RateLimitWindow,
  type SharedRateLimiterOptions,
} from "../../../src/cluster/rate-limiter.js";
import type { SharedLimits } from "../../../src/feishu/index.js";
import { redisSkipReason, startRedis } from "../../helpers/redis-server.js";
import { redisSuite } from "../../helpers/redis-stores.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const skip = redisSkipReason();

describe.skipIf(skip)("SharedRateLimiter: Feishu's rate windows across replicas", () => {
  const suite = redisSuite("rate-test");

  /** `count` replicas' limiters, each on its own connection, sharing one fresh key prefix. */
  async function replicas(count: number, options: SharedRateLimiterOptions = {}) {
    const stores = await suite.stores(count);
    return { stores, limiters: stores.map((store) => new SharedRateLimiter(store, options)) };
  }

  /** Redis' clock in ms, as the limiter reads it. */
  async function redisNow(store: RedisStore): Promise<number> {
    const [sec, usec] = await store.client.time();
    return Number(sec) * 1000 + Number(usec) / 1000;
  }

  it("keeps two replicas' bursts together within one window's limit", async () => {
    const { limiters } = await replicas(2);
    const window: RateLimitWindow = { key: "chat:oc_burst", limit: 5, windowMs: 300 };
    const perReplica = 15;
    const taken: number[] = [];
    const burst = async (limiter: SharedRateLimiter) => {
      let mine = 0;
      // Bounded: 15 takes need at most a few dozen refusals each at 5 per 300 ms.
      for (let attempt = 0; attempt < 400 && mine < perReplica; attempt++) {
        const result = await limiter.take([window]);
        if (result.ok) {
          taken.push(result.at);
          mine++;
          await limiter.settle(result.token, [window]); // answered at once
        } else {
          expect(result.waitMs).toBeGreaterThan(0);
          expect(result.waitMs).toBeLessThanOrEqual(window.windowMs);
          await sleep(result.waitMs);
        }
      }
      return mine;
    };
    const counts = await Promise.all(limiters.map(burst));
    expect(counts).toEqual([perReplica, perReplica]);
    taken.sort((a, b) => a - b);
    // Any window-long stretch that starts at a take holds at most `limit` takes.
    for (const [i, start] of taken.entries()) {
      const inWindow = taken.slice(i).filter((at) => at < start + window.windowMs).length;
      expect(inWindow, `takes within ${window.windowMs} ms of ${start}`).toBeLessThanOrEqual(window.limit);
    }
  });

  it("takes all windows or none: a full chat window leaves the app window untouched", async () => {
    const { stores, limiters } = await replicas(2);
    const [a, b] = limiters as [SharedRateLimiter, SharedRateLimiter];
    // The feishu outbound queue's port, satisfied structurally.
    const port: SharedLimits = a;
    const app = { key: "app", limit: 3, windowMs: 5_000 };
    const chatA = { key: "chat:a", limit: 2, windowMs: 5_000 };
    const chatB = { key: "chat:b", limit: 2, windowMs: 5_000 };
    const card = (key: string) => stores[0]!.client.zcard(stores[0]!.key("rate", key));
    expect((await port.take([app, chatA])).ok).toBe(true);
    expect((await b.take([app, chatA])).ok).toBe(true);
    expect((await a.take([app, chatA])).ok).toBe(false);
    expect(await card("app")).toBe(2);
    expect((await b.take([app, chatB])).ok).toBe(true);
    const refused = await a.take([app, chatB]);
    expect(refused.ok).toBe(false);
    expect(await card("chat:b")).toBe(1);
    expect(await card("app")).toBe(3);
  });

  it("answers how long until there is room, and there is room after that wait", async () => {
    const { stores, limiters } = await replicas(1);
    const limiter = limiters[0]!;
    const store = stores[0]!;
    const window = { key: "chat:wait", limit: 2, windowMs: 500 };
    const first = await limiter.take([window]);
    if (!first.ok) throw new Error("the first take must pass");
    await limiter.settle(first.token, [window]);
    const second = await limiter.take([window]);
    if (!second.ok) throw new Error("the second take must pass");
    await limiter.settle(second.token, [window]);
    const oldest = Number(await store.client.zscore(store.key("rate", window.key), first.token));
    const before = await redisNow(store);
    const refused = await limiter.take([window]);
    const after = await redisNow(store);
    if (refused.ok) throw new Error("a full window must refuse");
    // The oldest call leaves the window at oldest + windowMs, measured on Redis' clock.
    expect(refused.waitMs).toBeGreaterThanOrEqual(Math.floor(oldest + window.windowMs - after));
    expect(refused.waitMs).toBeLessThanOrEqual(Math.ceil(oldest + window.windowMs - before));
    await sleep(refused.waitMs + 5);
    expect((await limiter.take([window])).ok).toBe(true);
  });

  it("holds a slot while its call is on the wire, then counts it from when it was settled", async () => {
    const { stores, limiters } = await replicas(2, { holdMs: 60_000 });
    const [a, b] = limiters as [SharedRateLimiter, SharedRateLimiter];
    const store = stores[0]!;
    const window = { key: "message:om_live", limit: 1, windowMs: 200 };
    const key = store.key("rate", window.key);
    const taken = await a.take([window]);
    if (!taken.ok) throw new Error("the first take must pass");
    expect(Number(await store.client.zscore(key, taken.token))).toBeGreaterThan(await redisNow(store));
    await sleep(window.windowMs + 50);
    // Longer ago than the window, but not answered yet: still counts, look again shortly.
    expect(await b.take([window])).toEqual({ ok: false, waitMs: 20 });
    await a.settle(taken.token, [window]);
    const settledAt = Number(await store.client.zscore(key, taken.token));
    expect(settledAt).toBeGreaterThanOrEqual(taken.at + window.windowMs + 50);
    expect(settledAt).toBeLessThanOrEqual(await redisNow(store));
    const before = await redisNow(store);
    const refused = await b.take([window]);
    const after = await redisNow(store);
    if (refused.ok) throw new Error("the settled call still counts for a window");
    expect(refused.waitMs).toBeGreaterThanOrEqual(Math.floor(settledAt + window.windowMs - after));
    expect(refused.waitMs).toBeLessThanOrEqual(Math.ceil(settledAt + window.windowMs - before));
  });

  it("frees the slot of a call never settled (its replica died) after holdMs and the window", async () => {
    const { limiters } = await replicas(2, { holdMs: 150 });
    const [dead, alive] = limiters as [SharedRateLimiter, SharedRateLimiter];
    const window = { key: "chat:orphan", limit: 1, windowMs: 100 };
    expect((await dead.take([window])).ok).toBe(true);
    const first = await alive.take([window]);
    expect(first.ok).toBe(false);
    let ok = false;
    for (let attempt = 0; attempt < 100 && !ok; attempt++) {
      const result = await alive.take([window]);
      if (result.ok) ok = true;
      else await sleep(result.waitMs);
    }
    expect(ok).toBe(true);
  });

  it("lets idle keys expire with their window", async () => {
    const { stores, limiters } = await replicas(1, { holdMs: 1_000 });
    const store = stores[0]!;
    const limiter = limiters[0]!;
    const window = { key: "chat:idle", limit: 5, windowMs: 150 };
    const key = store.key("rate", window.key);
    const taken = await limiter.take([window]);
    if (!taken.ok) throw new Error("the take must pass");
    // On the wire: kept for the hold plus the window.
    expect(await store.client.pttl(key)).toBeGreaterThan(window.windowMs);
    expect(await store.client.pttl(key)).toBeLessThanOrEqual(1_000 + window.windowMs);
    await limiter.settle(taken.token, [window]);
    const ttl = await store.client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(window.windowMs);
    await waitFor(async () => (await store.client.exists(key)) === 0, {
      timeoutMs: 5_000,
      what: "the key to expire",
    });
  });

  it("fails a take Redis does not answer in time, and gives its slot back when Redis runs it later", async () => {
    const { stores, limiters } = await replicas(2, { timeoutMs: 200 });
    const [slow, other] = stores as [RedisStore, RedisStore];
    const limiter = limiters[0]!;
    const window = { key: "chat:slow", limit: 1, windowMs: 60_000 };
    // Keeps the server busy for 800 ms (a script runs alone), as a stalled Redis would.
    const busy = other.client.eval(
      `local t = redis.call("TIME") local start = t[1] * 1000000 + t[2]
       repeat t = redis.call("TIME") until t[1] * 1000000 + t[2] - start > 800000
       return 1`,
      0,
    );
    await sleep(50);
    await expect(limiter.take([window])).rejects.toThrow(/did not answer/);
    await busy;
    // Same connection, in order: once this answers, the late take and its ZREM have run.
    await slow.client.ping();
    expect(await other.client.zcard(other.key("rate", window.key))).toBe(0);
    expect((await limiter.take([window])).ok).toBe(true);
  });

  it("rejects at once while Redis is down instead of waiting for it", async () => {
    const own = await startRedis();
    // Not closed with the others: QUIT would wait for a Redis that is gone.
    const store = new RedisStore({ url: own.url, keyPrefix: "rate-down:", name: "replica-down" });
    try {
      await store.ready();
      const limiter = new SharedRateLimiter(store);
      const window = { key: "app", limit: 50, windowMs: 1_000 };
      expect((await limiter.take([window])).ok).toBe(true);
      await own.stop();
      await waitFor(() => !store.up(), { what: "the store to notice" });
      await expect(limiter.take([window])).rejects.toThrow(/not connected/);
    } finally {
      store.client.disconnect();
    }
  });
});
