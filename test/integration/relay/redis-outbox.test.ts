import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFencedError, RedisStore, type Fence } from "../../../src/cluster/index.js";
import { createLogger, ManualClock } from "../../../src/core/index.js";
import { deferred } from "../../../src/feishu/outbound/deferred.js";
import type { OutboxItem, PutResult } from "../../../src/relay/outbox-types.js";
import { RedisOutbox, type RedisOutboxOptions } from "../../../src/relay/redis-outbox.js";
import { logSink } from "../../helpers/log-sink.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { waitFor } from "../../helpers/wait.js";

interface Payload {
  lane: string;
  text: string;
}

const TARGET = "ai-pc";
const laneOf = (payload: Payload) => payload.lane;

function item(id: string, lane = "a", extra: Partial<OutboxItem<Payload>> = {}): OutboxItem<Payload> {
  return { id, payload: { lane, text: `text of ${id}` }, enqueuedAt: 1_000, attempts: 0, ...extra };
}

const ids = (outbox: RedisOutbox<Payload>) => outbox.pending().map((i) => i.id);
const heads = (outbox: RedisOutbox<Payload>) => [...outbox.laneHeads()].map((i) => i.id);
const nothing = () => {};

const skip = redisSkipReason();

describe.skipIf(skip)("RedisOutbox: one target's outbox shared by replicas", () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const outboxes: RedisOutbox<Payload>[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const outbox of outboxes) await outbox.close();
    for (const store of stores) await store.close();
  });

  /** Replicas' connections sharing one fresh key prefix. */
  async function replicas(count: number, url = redis.url): Promise<RedisStore[]> {
    const keyPrefix = `outbox-test-${++prefixes}:`;
    const list = Array.from(
      { length: count },
      (_, i) => new RedisStore({ url, keyPrefix, name: `replica-${i}` }),
    );
    stores.push(...list);
    await Promise.all(list.map((store) => store.ready()));
    return list;
  }

  async function open(
    store: RedisStore,
    extra: Partial<RedisOutboxOptions<Payload>> = {},
  ): Promise<RedisOutbox<Payload>> {
    const outbox = new RedisOutbox<Payload>({
      store,
      target: TARGET,
      capacity: 10,
      laneOf,
      clock: new ManualClock(),
      consumer: "r1",
      claimIdleMs: 500,
      ...extra,
    });
    outboxes.push(outbox);
    await outbox.load();
    return outbox;
  }

  /** The target's lease as a replica holds it (`<replica>|<token>`), written into Redis. */
  async function lease(store: RedisStore, value: string): Promise<Fence & { holds: boolean }> {
    const key = store.key("lease", `node:${TARGET}`);
    await store.client.set(key, value);
    const fence = { key, value, token: Number(value.split("|")[1]), holds: true, held: () => fence.holds };
    return fence;
  }
  /** An outbox this test's replica r1 consumes under its lease, once it has read all of `items`. */
  async function consuming(
    store: RedisStore,
    items: OutboxItem<Payload>[],
    extra: Partial<RedisOutboxOptions<Payload>> = {},
  ): Promise<RedisOutbox<Payload>> {
    const outbox = await open(store, extra);
    await outbox.put(items);
    await outbox.consume(await lease(store, "r1|1"), nothing);
    await waitFor(() => ids(outbox).length === items.length, { what: `${items.length} items read` });
    return outbox;
  }

  /** Closes the named connections from the server's side, as when their process dies. */
  async function killClients(store: RedisStore, names: string[]): Promise<void> {
    const list = String(await store.client.client("LIST"));
    for (const line of list.split("\n")) {
      const name = /\bname=(\S*)/.exec(line)?.[1];
      const id = /\bid=(\d+)/.exec(line)?.[1];
      if (id && name && names.includes(name)) await store.client.client("KILL", "ID", id);
    }
  }

  const keyOf = (store: RedisStore, ...parts: string[]) => store.key("outbox", TARGET, ...parts);

  it("queues in order, answers duplicate for pending and done ids, and overflow at capacity", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!, { capacity: 3 });
    expect(await outbox.put([item("a"), item("b")])).toEqual(["queued", "queued"]);
    expect(await outbox.put(item("a"))).toEqual(["duplicate"]);
    expect(await outbox.put([item("c"), item("c"), item("d")])).toEqual(["queued", "duplicate", "overflow"]);
    expect(await outbox.put([])).toEqual([]);
    expect(outbox.size).toBe(3);
    expect(outbox.seq).toBe(3);
    // Nothing is read before this replica consumes as the owner.
    expect(ids(outbox)).toEqual([]);

    await outbox.consume(await lease(store!, "r1|1"), nothing);
    await waitFor(() => ids(outbox).length === 3, { what: "three items read" });
    expect(ids(outbox)).toEqual(["a", "b", "c"]);
    expect(outbox.peek()?.id).toBe("a");
    expect(outbox.peek()).toEqual(item("a"));
    expect(outbox.seqOf("c")).toBe(3);
    outbox.attempt("a", new Error("gateway offline"));
    expect(outbox.peek()).toMatchObject({ attempts: 1, lastError: "gateway offline" });

    await outbox.done("b");
    expect(ids(outbox)).toEqual(["a", "c"]);
    expect(outbox.size).toBe(2);
    expect(outbox.has("b")).toBe(true);
    expect(outbox.has("d")).toBe(false);
    // Done means gone from the stream too: it holds pending entries only.
    expect(await store!.client.xlen(keyOf(store!))).toBe(2);
    expect(await outbox.put([item("b"), item("d")])).toEqual(["duplicate", "queued"]);
    await outbox.done("nobody");
    await waitFor(() => ids(outbox).length === 3, { what: "d read" });
    expect(ids(outbox)).toEqual(["a", "c", "d"]);
    expect(outbox.seqOf("d")).toBe(4);
    expect(outbox.stats()).toMatchObject({
      target: TARGET,
      pending: 3,
      capacity: 3,
      compactions: 0,
      lines: 3,
    });
    expect(outbox.stats().writes).toBeGreaterThanOrEqual(5);
    expect(outbox.sourced()).toEqual([]);
  });

  it("writes the puts of one tick in one script, in call order, each call with its own results", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!, { capacity: 4 });
    const writesBefore = outbox.stats().writes;
    const results = await Promise.all([
      outbox.put([item("a"), item("b")]),
      outbox.put(item("a")),
      outbox.put([item("c"), item("d"), item("e")]),
      outbox.requeue(item("f")),
    ]);
    expect(results).toEqual([
      ["queued", "queued"],
      ["duplicate"],
      ["queued", "queued", "overflow"],
      "overflow",
    ]);
    // One script for the three puts, another for the requeue (it queues done ids again).
    expect(outbox.stats().writes - writesBefore).toBe(2);
    await outbox.consume(await lease(store!, "r1|1"), nothing);
    await waitFor(() => ids(outbox).length === 4, { what: "four items read" });
    expect(ids(outbox)).toEqual(["a", "b", "c", "d"]);
  });

  it("takes an item out of its lane as soon as it is being marked done", async () => {
    const [store] = await replicas(1);
    const outbox = await consuming(store!, [item("a"), item("b")]);
    const marked = outbox.done("a");
    // Before the mark is written, the lane's next item is its head: a loop goes on at once.
    expect(heads(outbox)).toEqual(["b"]);
    await marked;
    expect(ids(outbox)).toEqual(["b"]);
  });

  it("marks an item whose effects are being written only once they are, and not at all if they fail", async () => {
    const [store] = await replicas(1);
    const outbox = await consuming(store!, [item("a", "l1"), item("b", "l1"), item("c", "l2")], {
      doneGatherMs: 0,
    });
    const written = deferred<void>();
    const failed = deferred<void>();
    const a = outbox.done("a", written.promise);
    const c = outbox.done("c", failed.promise);
    expect(heads(outbox)).toEqual(["b"]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const idsKey = store!.key("outbox", TARGET, "ids");
    expect((await store!.client.hkeys(idsKey)).sort()).toEqual(["a", "b", "c"]);
    written.resolve();
    await a;
    expect((await store!.client.hkeys(idsKey)).sort()).toEqual(["b", "c"]);
    failed.reject(new Error("answer not written"));
    await expect(c).rejects.toThrow("answer not written");
    expect((await store!.client.hkeys(idsKey)).sort()).toEqual(["b", "c"]);
    expect(heads(outbox)).toEqual(["b", "c"]);
  });

  it("reads again only a linger after a read that brought entries, so a busy stream is read in batches", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!, { readLingerMs: 1_000 });
    await outbox.put(item("a"));
    await outbox.consume(await lease(store!, "r1|1"), nothing);
    await waitFor(() => ids(outbox).length === 1, { what: "the first item read" });
    await outbox.put([item("b"), item("c", "l2")]);
    // Within the linger the stream is not read again; after it, what was put meanwhile comes in one read.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ids(outbox)).toEqual(["a"]);
    await waitFor(() => ids(outbox).length === 3, {
      what: "the items put during the linger",
      timeoutMs: 5_000,
    });
    expect(ids(outbox)).toEqual(["a", "b", "c"]);
  });

  it("marks the dones of a few ms in one script, though they were called in different turns", async () => {
    const [store] = await replicas(1);
    // Longer than the default, so a slow turn on a busy machine cannot split the three.
    const outbox = await consuming(store!, [item("a", "l1"), item("b", "l2"), item("c", "l3")], {
      doneGatherMs: 500,
    });
    const writesBefore = outbox.stats().writes;
    const marks: Promise<void>[] = [];
    for (const id of ["a", "b", "c"]) {
      marks.push(outbox.done(id));
      // The next turn of the event loop: each done on its own, as deliveries finish.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(marks);
    expect(outbox.stats().writes - writesBefore).toBe(1);
    expect(outbox.stats().pending).toBe(0);
    expect(ids(outbox)).toEqual([]);
  });

  it("requeues a done id, forgets done ids beyond rememberDone, and keeps sources", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!, { capacity: 2, rememberDone: 3 });
    const source = { inbox: "to-ai-pc.jsonl", end: 120 };
    await outbox.consume(await lease(store!, "r1|1"), nothing);
    const deliver = async (id: string) => {
      await waitFor(() => outbox.seqOf(id) !== undefined, { what: `${id} read` });
      await outbox.done(id);
    };

    expect(await outbox.put(item("a", "a", { source }))).toEqual(["queued"]);
    await waitFor(() => outbox.sourceOf("a"), { what: "a read" });
    expect(outbox.sourceOf("a")).toEqual(source);
    await deliver("a");
    expect(outbox.sourceOf("a")).toEqual(source);
    expect(await outbox.put(item("a"))).toEqual(["duplicate"]);
    expect(await outbox.requeue(item("a"))).toBe("queued");
    expect(await outbox.requeue(item("a"))).toBe("duplicate");
    await waitFor(() => outbox.seqOf("a") === 2, { what: "a read again, numbered anew" });
    expect(await outbox.put(item("b"))).toEqual(["queued"]);
    expect(await outbox.requeue(item("c"))).toBe("overflow");
    await deliver("a");
    await deliver("b");
    for (const id of ["c", "d", "e"]) {
      expect(await outbox.put(item(id))).toEqual(["queued"]);
      await deliver(id);
    }
    // Remembered: the three done last (by seq); a and b are forgotten and may come again.
    expect(await store!.client.zrange(keyOf(store!, "done"), 0, -1)).toEqual(["c", "d", "e"]);
    expect(await outbox.put([item("e"), item("a")])).toEqual(["duplicate", "queued"]);
    expect(outbox.size).toBe(1);
  });

  it("rejects a payload that is not JSON before writing anything, and must be loaded and open", async () => {
    const [store] = await replicas(1);
    const outbox = new RedisOutbox<unknown>({
      store: store!,
      target: TARGET,
      capacity: 2,
      consumer: "r1",
      claimIdleMs: 500,
    });
    await expect(outbox.put({ id: "a", payload: 1, enqueuedAt: 0, attempts: 0 })).rejects.toMatchObject({
      code: "CB_INTERNAL",
    });
    await outbox.load();
    await expect(outbox.put([{ id: "a", payload: 1n, enqueuedAt: 0, attempts: 0 }])).rejects.toThrow();
    expect(outbox.has("a")).toBe(false);
    expect(await store!.client.hlen(keyOf(store!, "ids"))).toBe(0);
    expect(await outbox.put({ id: "a", payload: 1, enqueuedAt: 0, attempts: 0 })).toEqual(["queued"]);
    await outbox.close();
    await expect(outbox.put({ id: "b", payload: 1, enqueuedAt: 0, attempts: 0 })).rejects.toMatchObject({
      code: "CB_INTERNAL",
    });
    // Another replica loading later sees what is waiting.
    const later = await open(store!);
    expect(later.size).toBe(1);
    expect(later.seq).toBe(1);
  });

  it("gives lane heads and lane items in seq order, and a restarted consumer re-reads its own entries", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!);
    await outbox.put([item("a1", "a"), item("b1", "b"), item("a2", "a"), item("c1", "c")]);
    const fence = await lease(store!, "r1|1");
    let calls = 0;
    await outbox.consume(fence, () => calls++);
    await waitFor(() => ids(outbox).length === 4, { what: "four items read" });
    expect(calls).toBeGreaterThan(0);
    expect(heads(outbox)).toEqual(["a1", "b1", "c1"]);
    expect(outbox.laneItems("a", 10).map((i) => i.id)).toEqual(["a1", "a2"]);
    expect(outbox.laneItems("a", 1).map((i) => i.id)).toEqual(["a1"]);
    expect(outbox.laneItems("zz", 10)).toEqual([]);
    await outbox.done("a1");
    expect(heads(outbox)).toEqual(["b1", "a2", "c1"]);
    await expect(outbox.consume(fence, nothing)).rejects.toMatchObject({ code: "CB_INTERNAL" });

    // Stopped: the view is gone, the entries stay pending for this consumer in the group.
    await outbox.stopConsuming();
    expect(ids(outbox)).toEqual([]);
    await outbox.done("b1"); // not in the view: nothing happens
    expect(await store!.client.hlen(keyOf(store!, "ids"))).toBe(3);
    await outbox.consume(fence, nothing);
    // Its own entries come back at once (no waiting for claimIdleMs).
    expect(heads(outbox)).toEqual(["b1", "a2", "c1"]);
  });

  it("two producers putting the same ids queue each id once", async () => {
    const [one, two] = await replicas(2);
    const first = await open(one!, { capacity: 500, consumer: "p1" });
    const second = await open(two!, { capacity: 500, consumer: "p2" });
    const all = Array.from({ length: 40 }, (_, i) => item(`m${i}`, `lane${i % 3}`));
    const queued = new Map<string, number>();
    for (let round = 0; round < 5; round++) {
      const batch = all.slice(round * 8, round * 8 + 16);
      const [a, b] = await Promise.all([first.put(batch), second.put([...batch].reverse())]);
      batch.forEach((entry, i) => {
        const results = [a[i], b[batch.length - 1 - i]];
        expect(results.every((r) => r === "queued" || r === "duplicate")).toBe(true);
        queued.set(entry.id, (queued.get(entry.id) ?? 0) + results.filter((r) => r === "queued").length);
      });
    }
    expect([...queued.values()].every((n) => n === 1)).toBe(true);
    expect(queued.size).toBe(40);
    expect(await one!.client.hlen(keyOf(one!, "ids"))).toBe(40);
    expect(await one!.client.xlen(keyOf(one!))).toBe(40);
    expect(await one!.client.get(keyOf(one!, "seq"))).toBe("40");
  });

  it("a consumer whose lease moved on cannot mark anything done", async () => {
    const [storeA, storeB] = await replicas(2);
    const a = await open(storeA!, { consumer: "r1", claimIdleMs: 300 });
    const b = await open(storeB!, { consumer: "r2", claimIdleMs: 300 });
    await a.put([item("x1"), item("x2")]);
    const fenceA = await lease(storeA!, "r1|1");
    await a.consume(fenceA, nothing);
    await waitFor(() => ids(a).length === 2, { what: "A read both" });

    // A pauses; its lease lapses and r2 takes the target (the local clock of A has not noticed).
    const fenceB = await lease(storeB!, "r2|2");
    const refused = await a.done("x1").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isFencedError(refused)).toBe(true);
    expect(String(refused)).toMatch(/lease is held by another replica/);
    expect(ids(a)).toEqual(["x1", "x2"]);
    expect(await storeA!.client.hlen(keyOf(storeA!, "ids"))).toBe(2);
    fenceA.holds = false;
    await a.stopConsuming();

    await b.consume(fenceB, nothing);
    expect(ids(b)).toEqual(["x1", "x2"]);
    await b.done("x1");
    await b.done("x2");
    expect(await storeB!.client.hlen(keyOf(storeB!, "ids"))).toBe(0);
    expect(await storeB!.client.xpending(keyOf(storeB!), "bridge")).toEqual([0, null, null, null]);
  });

  it("creates the group again when it is gone, and goes on reading", async () => {
    const [store] = await replicas(1);
    const outbox = await open(store!);
    await outbox.put(item("a"));
    await outbox.consume(await lease(store!, "r1|1"), nothing);
    await waitFor(() => ids(outbox).length === 1, { what: "a read" });
    await store!.client.xgroup("DESTROY", keyOf(store!), "bridge");
    await outbox.put(item("b"));
    await waitFor(() => ids(outbox).length === 2, { what: "b read after the group came back" });
    expect(ids(outbox)).toEqual(["a", "b"]);
    await outbox.done("a");
    await outbox.done("b");
    expect(await store!.client.hlen(keyOf(store!, "ids"))).toBe(0);
    expect(await store!.client.xlen(keyOf(store!))).toBe(0);
  });

  it("failover: the next owner takes a dead consumer's entries once idle, before newer ones of their lanes", async () => {
    const claimIdleMs = 800;
    const [producer, storeA, storeB] = await replicas(3);
    const p = await open(producer!, { consumer: "p" });
    const a = await open(storeA!, { consumer: "r1", claimIdleMs });
    const sink = logSink();
    const logger = createLogger({ destination: sink.stream, pretty: false, level: "info" });
    const b = await open(storeB!, { consumer: "r2", claimIdleMs, logger });
    await p.put([item("x1", "x"), item("y1", "y"), item("x2", "x"), item("y2", "y"), item("x3", "x")]);

    const startedA = Date.now();
    await a.consume(await lease(storeA!, "r1|1"), nothing);
    await waitFor(() => ids(a).length === 5, { what: "A read five" });
    // A is killed: Redis sees its sockets close (a QUIT alone would wait behind the blocked
    // read, which could still take the next entries). Nothing was acknowledged.
    const dying = storeA!.close();
    await killClients(producer!, ["replica-1", `outbox:${TARGET}:r1`]);
    await dying;
    await p.put([item("x4", "x"), item("y3", "y")]);

    const seen: string[][] = [];
    await b.consume(await lease(storeB!, "r2|2"), () => seen.push(ids(b)));
    // Not before A's entries lay idle claimIdleMs (A took them after startedA).
    expect(Date.now() - startedA).toBeGreaterThanOrEqual(claimIdleMs - 20);
    expect(seen[0]).toEqual(["x1", "y1", "x2", "y2", "x3"]);
    await waitFor(() => ids(b).length === 7, { what: "B read the two put after A died" });
    expect(ids(b)).toEqual(["x1", "y1", "x2", "y2", "x3", "x4", "y3"]);
    expect(b.laneItems("x", 10).map((i) => i.id)).toEqual(["x1", "x2", "x3", "x4"]);
    expect(b.laneItems("y", 10).map((i) => i.id)).toEqual(["y1", "y2", "y3"]);
    // Every view B showed kept each lane in order.
    for (const view of seen) {
      for (const lane of ["x", "y"]) {
        const inLane = view.filter((id) => id.startsWith(lane));
        expect(inLane).toEqual([...inLane].sort());
      }
    }
    const summary = (await producer!.client.xpending(keyOf(producer!), "bridge")) as unknown[];
    expect(summary[0]).toBe(7);
    expect(summary[3]).toEqual([["r2", "7"]]);
    for (const id of ids(b)) await b.done(id);
    expect(await producer!.client.hlen(keyOf(producer!, "ids"))).toBe(0);
    // The log says what was taken over, and from whom.
    expect(sink.records()).toContainEqual(
      expect.objectContaining({ msg: "took over pending entries", claimed: 5, from: ["r1"], consumer: "r2" }),
    );
  });
});

describe.skipIf(skip)("RedisOutbox across a Redis restart (append-only)", () => {
  it("loses nothing and doubles nothing while ~500 items are put and consumed through two restarts", async () => {
    const redis = await startRedis({ appendOnly: true });
    const keyPrefix = "restart-test:";
    const producer = new RedisStore({ url: redis.url, keyPrefix, name: "producer" });
    const consumer = new RedisStore({ url: redis.url, keyPrefix, name: "consumer" });
    const options = { target: TARGET, capacity: 1_000, rememberDone: 2_000, laneOf, claimIdleMs: 500 };
    const p = new RedisOutbox<Payload>({ store: producer, consumer: "p", ...options });
    const c = new RedisOutbox<Payload>({ store: consumer, consumer: "r1", ...options });
    try {
      await Promise.all([p.load(), c.load()]);
      const results = new Map<string, PutResult[]>();
      const putBatch = async (batch: number) => {
        const items = Array.from({ length: 10 }, (_, i) => item(`m${batch * 10 + i}`, `lane${i % 4}`));
        const answers = await p.put(items);
        items.forEach((entry, i) => results.set(entry.id, [...(results.get(entry.id) ?? []), answers[i]!]));
      };
      for (let batch = 0; batch < 10; batch++) await putBatch(batch);
      const fenceKey = consumer.key("lease", `node:${TARGET}`);
      await producer.client.set(fenceKey, "r1|1");

      await redis.restart();
      expect(await producer.client.hlen(producer.key("outbox", TARGET, "ids"))).toBe(100);

      // Delivery: every item in the view once, done right away.
      const delivered = new Map<string, number>();
      const lanes = new Map<string, number[]>();
      const inFlight = new Set<string>();
      const failures: unknown[] = [];
      const drain = () => {
        for (const entry of c.pending()) {
          if (inFlight.has(entry.id)) continue;
          inFlight.add(entry.id);
          delivered.set(entry.id, (delivered.get(entry.id) ?? 0) + 1);
          const lane = lanes.get(entry.payload.lane) ?? [];
          lanes.set(entry.payload.lane, [...lane, c.seqOf(entry.id)!]);
          c.done(entry.id)
            .catch((error: unknown) => failures.push(error))
            .finally(() => {
              inFlight.delete(entry.id);
              drain();
            });
        }
      };
      const fence: Fence = { key: fenceKey, value: "r1|1", token: 1, held: () => true };
      await c.consume(fence, drain);

      // Four producers at once; Redis is killed and started again when half the batches are out.
      let next = 10;
      let restarted: Promise<void> | undefined;
      let putsAfterKill = 0;
      const worker = async () => {
        while (next < 50) {
          const batch = next++;
          if (batch === 25) restarted = redis.restart();
          else if (restarted) putsAfterKill++;
          await putBatch(batch);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      await restarted;
      expect(putsAfterKill).toBeGreaterThan(0);

      await waitFor(() => delivered.size === 500 && c.pending().length === 0 && inFlight.size === 0, {
        timeoutMs: 15_000,
        what: () => `all 500 delivered (${delivered.size} so far, ${c.pending().length} in view)`,
      });
      expect(failures).toEqual([]);
      expect([...delivered.values()].filter((n) => n !== 1)).toEqual([]);
      // Each lane went out in seq order, also across the restarts.
      for (const seqs of lanes.values()) expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(results.size).toBe(500);
      for (const answers of results.values()) {
        expect(answers).toHaveLength(1);
        expect(["queued", "duplicate"]).toContain(answers[0]);
      }
      expect(await producer.client.hlen(producer.key("outbox", TARGET, "ids"))).toBe(0);
      expect(await producer.client.xlen(producer.key("outbox", TARGET))).toBe(0);
      expect(await producer.client.zcard(producer.key("outbox", TARGET, "done"))).toBe(500);
    } finally {
      await p.close();
      await c.close();
      await producer.close();
      await consumer.close();
    }
  });
});
