import { describe, expect, it } from "vitest";
import {
  FENCE_CHECK_LUA,
  fenceArgs,
  isFencedError,
  Lease,
  RedisStore,
  runScript,
  type Fence,
  type LuaScript,
} from "../../../src/cluster/index.js";
import { ManualClock } from "../../../src/core/index.js";
import { redisSkipReason, startRedis } from "../../helpers/redis-server.js";
import { redisSuite } from "../../helpers/redis-stores.js";
import { waitFor } from "../../helpers/wait.js";

// A write as a role makes it: fenced by the lease. KEYS[1] lease, KEYS[2] target; ARGV[1]
// the lease value, ARGV[2] what to write.
const FENCED_SET: LuaScript = {
  name: "leaseTestFencedSet",
  keys: 2,
  lua: `${FENCE_CHECK_LUA}
return redis.call("SET", KEYS[2], ARGV[2])`,
};

const skip = redisSkipReason();

describe.skipIf(skip)("Lease: one holder per role, with a fencing token", () => {
  const suite = redisSuite("lease-test");

  /** Two replicas' connections sharing one fresh key prefix. */
  async function twoStores(url?: string): Promise<[RedisStore, RedisStore]> {
    return (await suite.stores(2, url)) as [RedisStore, RedisStore];
  }

  async function fencedSet(store: RedisStore, fence: Fence | undefined, value: string): Promise<unknown> {
    const { key, value: expected } = fenceArgs(fence);
    return runScript(
      store.client,
      FENCED_SET,
      [key || store.key("lease", "none"), store.key("target")],
      [expected, value],
    );
  }

  it("lets one owner in at a time; asking again while holding keeps the same token", async () => {
    const [sa, sb] = await twoStores();
    const a = new Lease(sa, { role: "folder", owner: "a-1-aaaa", ttlMs: 30_000 });
    const b = new Lease(sb, { role: "folder", owner: "b-2-bbbb", ttlMs: 30_000 });
    const [first, second] = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    const [winner, loser] = first ? [a, b] : [b, a];
    const fence = winner.fence!;
    expect(fence.held()).toBe(true);
    expect(fence.key).toBe(sa.key("lease", "folder"));
    expect(fence.value).toBe(`${winner.owner}|${fence.token}`);
    expect(loser.fence).toBeUndefined();
    expect(await loser.tryAcquire()).toBeUndefined();
    expect(await loser.renew()).toBe(false);

    const again = await winner.tryAcquire();
    expect(again?.token).toBe(fence.token);
    expect(await a.holder()).toEqual({ owner: winner.owner, token: fence.token });
  });

  it("hands out a higher token on every fresh acquisition", async () => {
    const [sa, sb] = await twoStores();
    const a = new Lease(sa, { role: "chat", owner: "a-1-aaaa", ttlMs: 30_000 });
    const b = new Lease(sb, { role: "chat", owner: "b-2-bbbb", ttlMs: 30_000 });
    const tokens: number[] = [];
    for (const lease of [a, b, a, b]) {
      const fence = await lease.tryAcquire();
      expect(fence).toBeDefined();
      tokens.push(fence!.token);
      await lease.release();
      expect(lease.fence).toBeUndefined();
    }
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    expect(new Set(tokens).size).toBe(4);
    expect(await a.holder()).toBeUndefined();
  });

  it("renew pushes the expiry out again", async () => {
    const [sa] = await twoStores();
    const a = new Lease(sa, { role: "node:ai-pc", owner: "a-1-aaaa", ttlMs: 20_000 });
    await a.tryAcquire();
    const key = sa.key("lease", "node:ai-pc");
    // Stand for time passing: the lease has 2 s left.
    await sa.client.pexpire(key, 2_000);
    expect(await sa.client.pttl(key)).toBeLessThanOrEqual(2_000);
    expect(await a.renew()).toBe(true);
    expect(await sa.client.pttl(key)).toBeGreaterThan(10_000);
    expect(a.fence?.held()).toBe(true);
  });

  it("lets another replica take an expired lease with a higher token; the old holder's fenced writes are refused", async () => {
    const [sa, sb] = await twoStores();
    const a = new Lease(sa, { role: "folder", owner: "a-1-aaaa", ttlMs: 300 });
    const b = new Lease(sb, { role: "folder", owner: "b-2-bbbb", ttlMs: 300 });
    const old = await a.tryAcquire();
    expect(old).toBeDefined();
    expect(await fencedSet(sa, old, "from a")).toBe("OK");
    expect(await b.tryAcquire()).toBeUndefined();

    // a stops renewing (paused); the lease runs out in Redis and b takes it.
    const taken = await waitFor(() => b.tryAcquire(), {
      timeoutMs: 5_000,
      intervalMs: 50,
      what: "b to take the lease",
    });
    expect(taken.token).toBeGreaterThan(old!.token);
    expect(old!.held()).toBe(false);

    let refusal: unknown;
    try {
      await fencedSet(sa, old, "stale write from a");
    } catch (error) {
      refusal = error;
    }
    expect(isFencedError(refusal)).toBe(true);
    expect(await sa.client.get(sa.key("target"))).toBe("from a");
    expect(await fencedSet(sb, taken, "from b")).toBe("OK");
    expect(await fencedSet(sb, undefined, "unfenced")).toBe("OK");

    // The old holder finds out on its next renewal; its release does not touch b's lease.
    const stale = new Lease(sa, { role: "folder", owner: "a-1-aaaa", ttlMs: 300 });
    expect(await a.renew()).toBe(false);
    expect(a.fence).toBeUndefined();
    await a.release();
    await stale.release();
    expect(await b.holder()).toEqual({ owner: "b-2-bbbb", token: taken.token });
  });

  it("release deletes only the holder's own lease, so the next owner gets in at once", async () => {
    const [sa, sb] = await twoStores();
    const a = new Lease(sa, { role: "chat", owner: "a-1-aaaa", ttlMs: 300 });
    const b = new Lease(sb, { role: "chat", owner: "b-2-bbbb", ttlMs: 60_000 });
    const first = await a.tryAcquire();
    await waitFor(() => b.tryAcquire(), {
      timeoutMs: 5_000,
      intervalMs: 50,
      what: "b to take the expired lease",
    });
    // a never learnt it lost the lease: its release must leave b's alone.
    expect(a.fence?.token).toBe(first!.token);
    await a.release();
    expect((await b.holder())?.owner).toBe("b-2-bbbb");

    await b.release();
    const next = await a.tryAcquire();
    expect(next).toBeDefined();
    // a's first, b's, now a's again: one token each.
    expect(next!.token).toBe(first!.token + 2);
  });

  it("says held() is false by the local clock once renewals stop, before Redis expires the key", async () => {
    const [sa] = await twoStores();
    const clock = new ManualClock();
    const a = new Lease(sa, { role: "folder", owner: "a-1-aaaa", ttlMs: 3_000, clock });
    expect(a.marginMs).toBe(500);
    const fence = (await a.tryAcquire())!;
    expect(fence.held()).toBe(true);
    clock.advance(2_000);
    expect(await a.renew()).toBe(true);
    clock.advance(2_400);
    expect(fence.held()).toBe(true);
    // 2.5 s after the last renewal was sent: 500 ms short of the lease, the replica lets go.
    clock.advance(100);
    expect(fence.held()).toBe(false);
    // Redis (on real time) still has the key: the local clock is the earlier judge.
    expect((await a.holder())?.owner).toBe("a-1-aaaa");
    // A later renewal that Redis accepts makes the same fence good again.
    expect(await a.renew()).toBe(true);
    expect(fence.held()).toBe(true);
    await a.release();
    expect(fence.held()).toBe(false);
  });

  it("refuses an owner id with the token separator in it", async () => {
    const [sa] = await twoStores();
    expect(() => new Lease(sa, { role: "chat", owner: "a|1", ttlMs: 1_000 })).toThrow(/must not contain/);
  });
});

describe.skipIf(skip)("Lease across a Redis restart (append-only file)", () => {
  it("keeps the holder and the token counter", async () => {
    const redis = await startRedis({ appendOnly: true });
    const keyPrefix = "lease-restart:";
    const sa = new RedisStore({ url: redis.url, keyPrefix, name: "replica-a" });
    const sb = new RedisStore({ url: redis.url, keyPrefix, name: "replica-b" });
    try {
      await Promise.all([sa.ready(), sb.ready()]);
      const a = new Lease(sa, { role: "folder", owner: "a-1-aaaa", ttlMs: 30_000 });
      const b = new Lease(sb, { role: "folder", owner: "b-2-bbbb", ttlMs: 30_000 });
      const before = (await a.tryAcquire())!;

      await redis.restart();

      // Commands wait through the outage; after it the lease and the counter are as they were.
      expect(await b.holder()).toEqual({ owner: "a-1-aaaa", token: before.token });
      expect(await b.tryAcquire()).toBeUndefined();
      expect(await a.renew()).toBe(true);
      await a.release();
      const after = (await b.tryAcquire())!;
      expect(after.token).toBe(before.token + 1);
    } finally {
      await sa.close();
      await sb.close();
    }
  });

  it("without the append-only file, forgets the lease but still hands out a higher token", async () => {
    const redis = await startRedis({ appendOnly: false });
    const store = new RedisStore({ url: redis.url, keyPrefix: "lease-volatile:", name: "replica-a" });
    try {
      await store.ready();
      const a = new Lease(store, { role: "folder", owner: "a-1-aaaa", ttlMs: 30_000 });
      const before = (await a.tryAcquire())!;
      // The counter starts at Redis' clock, so a forgotten counter starts above the old tokens.
      expect(before.token).toBeGreaterThan(1_600_000_000_000);

      await redis.restart();

      expect(await a.holder()).toBeUndefined();
      expect(await a.renew()).toBe(false);
      const after = (await a.tryAcquire())!;
      expect(after.token).toBeGreaterThan(before.token);
    } finally {
      await store.close();
    }
  });
});
