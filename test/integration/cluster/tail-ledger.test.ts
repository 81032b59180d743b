import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFencedError, type Fence } from "../../../src/cluster/fence.js";
import { RedisStore } from "../../../src/cluster/redis-client.js";
import { RedisTailLedger } from "../../../src/cluster/tail-ledger.js";
import {
  FileTailLedger,
  mailboxLayout,
  Tailer,
  type InboxMemory,
  type TailLedger,
} from "../../../src/mailbox/index.js";
import { collector, memoryStore, seedLine, sharedFixture } from "../../helpers/mailbox.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

const skip = redisSkipReason();

/** A load() result in a form that compares regardless of order. */
function plain(memory: Map<string, InboxMemory>): Record<string, InboxMemory> {
  return Object.fromEntries([...memory].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe.skipIf(skip)("RedisTailLedger: the tailer's cursors shared by the replicas", () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  /** A connection per replica, all under one fresh key prefix. */
  function world() {
    const keyPrefix = `tail-test-${++prefixes}:`;
    const leaseKey = `${keyPrefix}lease:tailer`;
    const connect = async (name: string) => {
      const store = new RedisStore({ url: redis.url, keyPrefix, name });
      stores.push(store);
      await store.ready();
      return store;
    };
    /** The tailer role given to `replica` (the lease key now holds its value), and its fence. */
    const grant = async (store: RedisStore, replica: string, token: number): Promise<Fence> => {
      const value = `${replica}|${token}`;
      await store.client.set(leaseKey, value);
      return { key: leaseKey, value, token, held: () => true };
    };
    return { connect, grant, leaseKey };
  }

  it("remembers what FileTailLedger remembers for the same calls (ids, ends, rotations, checkpoints, the bound)", async () => {
    const { connect, grant } = world();
    const store = await connect("r1");
    const fence = await grant(store, "r1", 1);
    const stateDir = tempDir();
    const keepIds = 5;
    const ledgers: TailLedger[] = [
      new FileTailLedger(stateDir, { keepIds }),
      new RedisTailLedger(store, fence, { keepIds }),
    ];
    const big = new FileTailLedger(stateDir);
    const bigRedis: TailLedger = new RedisTailLedger(store, fence);
    for (const ledger of ledgers) await ledger.load();
    const entries = (prefix: string, from: number, to: number, step = 10) =>
      Array.from({ length: to - from + 1 }, (_, i) => ({
        id: `${prefix}${from + i}`,
        end: (from + i) * step,
      }));

    for (const ledger of ledgers) {
      await ledger.saveCheckpoint("to-a.jsonl", { offset: 20, headHash: "ab12", headLength: 20 });
      await ledger.recordDelivered("to-a.jsonl", entries("a", 1, 3));
      await ledger.recordDelivered("to-a.jsonl", []);
      await ledger.recordDelivered("to-b.jsonl", entries("b", 1, 2));
      // Rotated: the end starts over, the ids stay (a re-read skips them).
      await ledger.recordRotation("to-a.jsonl");
      await ledger.recordDelivered("to-a.jsonl", entries("r", 1, 2, 4));
      await ledger.saveCheckpoint("to-a.jsonl", { offset: 8, headHash: "cd34", headLength: 8 });
      await ledger.recordRotation("to-c.jsonl");
      await ledger.saveCheckpoint("to-d.jsonl", { offset: 0 });
      // More than keepIds, in one chunk and then a few more.
      await ledger.recordDelivered("to-e.jsonl", entries("e", 1, 12));
      await ledger.recordDelivered("to-e.jsonl", entries("e", 13, 14));
      // Ends out of order within a chunk: the furthest counts.
      await ledger.recordDelivered("to-f.jsonl", [
        { id: "f2", end: 200 },
        { id: "f1", end: 100 },
      ]);
    }
    // A cold read's chunk: thousands of ids in one write.
    for (const ledger of [big, bigRedis]) await ledger.recordDelivered("to-g.jsonl", entries("g", 1, 2_500));
    for (const ledger of [...ledgers, big]) await ledger.close();

    const fromFile = plain(await new FileTailLedger(stateDir, { keepIds }).load());
    const fromRedis = plain(await new RedisTailLedger(store, fence, { keepIds }).load());
    const { ["to-g.jsonl"]: gFile, ...restFile } = fromFile;
    const { ["to-g.jsonl"]: gRedis, ...restRedis } = fromRedis;
    expect(restRedis).toEqual(restFile);
    expect(restRedis).toEqual({
      "to-a.jsonl": {
        checkpoint: { offset: 8, headHash: "cd34", headLength: 8 },
        deliveredIds: ["a1", "a2", "a3", "r1", "r2"],
        deliveredEnd: 8,
      },
      "to-b.jsonl": { deliveredIds: ["b1", "b2"], deliveredEnd: 20 },
      "to-c.jsonl": { deliveredIds: [], deliveredEnd: 0 },
      "to-d.jsonl": { checkpoint: { offset: 0 }, deliveredIds: [], deliveredEnd: 0 },
      "to-e.jsonl": { deliveredIds: ["e10", "e11", "e12", "e13", "e14"], deliveredEnd: 140 },
      "to-f.jsonl": { deliveredIds: ["f2", "f1"], deliveredEnd: 200 },
    });
    // keepIds 5 trims the big chunk too; the default bound keeps it whole, as the file does.
    expect(gRedis).toEqual(gFile);
    expect(gRedis?.deliveredIds).toHaveLength(5);
    const whole = (await new RedisTailLedger(store, fence).load()).get("to-g.jsonl");
    const wholeFile = (await new FileTailLedger(stateDir).load()).get("to-g.jsonl");
    expect(whole).toEqual(wholeFile);
    expect(whole?.deliveredIds).toHaveLength(2_500);
    expect(whole?.deliveredEnd).toBe(25_000);
  });

  it("refuses every write of a replica that lost the role; the successor loads what was written before", async () => {
    const { connect, grant, leaseKey } = world();
    const first = await connect("r1");
    const second = await connect("r2");
    const old = new RedisTailLedger(first, await grant(first, "r1", 1));
    await old.recordDelivered("to-ai-pc.jsonl", [{ id: "x1", end: 50 }]);
    await old.saveCheckpoint("to-ai-pc.jsonl", { offset: 50 });

    // r1 was paused past its lease; r2 holds the role now.
    const successor = new RedisTailLedger(second, await grant(second, "r2", 2));
    const handedOver = await successor.load();
    expect(plain(handedOver)).toEqual({
      "to-ai-pc.jsonl": { checkpoint: { offset: 50 }, deliveredIds: ["x1"], deliveredEnd: 50 },
    });

    const refusals = await Promise.allSettled([
      old.recordDelivered("to-ai-pc.jsonl", [{ id: "x2", end: 90 }]),
      old.saveCheckpoint("to-ai-pc.jsonl", { offset: 10 }),
      old.recordRotation("to-ai-pc.jsonl"),
      old.saveCheckpoint("to-new.jsonl", { offset: 10 }),
    ]);
    for (const refusal of refusals) {
      expect(refusal.status).toBe("rejected");
      expect(isFencedError((refusal as PromiseRejectedResult).reason)).toBe(true);
    }
    await successor.recordDelivered("to-ai-pc.jsonl", [{ id: "x2", end: 90 }]);
    expect(plain(await new RedisTailLedger(first, await grant(first, "r3", 3)).load())).toEqual({
      "to-ai-pc.jsonl": { checkpoint: { offset: 50 }, deliveredIds: ["x1", "x2"], deliveredEnd: 90 },
    });

    // A lease that expired with nobody holding it fences too.
    await first.client.del(leaseKey);
    await expect(successor.saveCheckpoint("to-ai-pc.jsonl", { offset: 90 })).rejects.toSatisfy(isFencedError);
  });

  it("the real tailer: a successor resumes where the last one stopped, every line handed on once", async () => {
    const { connect, grant } = world();
    const fx = sharedFixture();
    const line = (n: number) => `${seedLine("office-mac", "ai-pc", `line ${n}`)}\n`;
    for (let n = 1; n <= 10; n++) fx.write("ai-pc", line(n));
    const handedOn: string[] = [];

    // Replica r1 reads the first ten lines and stops cleanly: its cursor is saved.
    const r1 = await connect("r1");
    const first = collector();
    const store = memoryStore(fx.root, fx.stateDir, "poll");
    const tailer1 = await store.tail({
      handler: first.handler,
      quarantine: first.quarantine,
      startAt: "start",
      ledger: new RedisTailLedger(r1, await grant(r1, "r1", 1)),
    });
    await waitFor(() => first.envelopes.length === 10, { what: "the first ten lines" });
    await tailer1.stop();
    handedOn.push(...first.contents());

    // r2 takes over, resumes at line 11, and its handler fails at line 16; r2 then loses the
    // role before it saved its cursor (its checkpoint waits a minute).
    for (let n = 11; n <= 20; n++) fx.write("ai-pc", line(n));
    const r2 = await connect("r2");
    const second = collector();
    const ledger2 = new RedisTailLedger(r2, await grant(r2, "r2", 2));
    const tailer2 = new Tailer({
      layout: mailboxLayout(fx.root),
      ledger: ledger2,
      quarantine: second.quarantine,
      handler: (envelope, meta) => {
        if (envelope.content === "line 16") throw new Error("the relay said no");
        second.handler(envelope, meta);
      },
      watch: "poll",
      pollMs: 100,
      startAt: "start",
      checkpointDelayMs: 60_000,
    });
    await tailer2.start();
    await waitFor(() => second.envelopes.length === 5, { what: "lines 11 to 15" });
    await waitFor(async () => (await ledger2.load()).get("to-ai-pc.jsonl")?.deliveredIds.length === 15, {
      what: "lines 11 to 15 recorded as delivered",
    });
    handedOn.push(...second.contents());
    const r3 = await connect("r3");
    const fence3 = await grant(r3, "r3", 3);
    // Stopping saves the cursor: refused, the role moved on.
    await expect(tailer2.stop()).rejects.toSatisfy(isFencedError);
    const memory = (await new RedisTailLedger(r3, fence3).load()).get("to-ai-pc.jsonl")!;
    expect(memory.checkpoint?.offset).toBe(
      Buffer.byteLength(Array.from({ length: 10 }, (_, i) => line(i + 1)).join("")),
    );
    expect(memory.deliveredEnd).toBeGreaterThan(memory.checkpoint!.offset);

    // r3 resumes after line 15 (the delivered end), not at the saved cursor (line 10).
    const third = collector();
    const tailer3 = await memoryStore(fx.root, fx.stateDir, "poll").tail({
      handler: third.handler,
      quarantine: third.quarantine,
      startAt: "start",
      ledger: new RedisTailLedger(r3, fence3),
    });
    try {
      await waitFor(() => third.envelopes.length === 5, {
        what: () => `lines 16 to 20, got ${third.contents().join(", ")}`,
      });
      handedOn.push(...third.contents());
      expect(handedOn).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 1}`));
    } finally {
      await tailer3.stop();
    }

    // The file is rotated (replaced by its last lines and new ones): r4 reads it from the
    // start and skips the ids already handed on.
    writeFileSync(fx.inbox("ai-pc"), [18, 19, 20, 21, 22].map(line).join(""));
    const r4 = await connect("r4");
    const fourth = collector();
    const tailer4 = await memoryStore(fx.root, fx.stateDir, "poll").tail({
      handler: fourth.handler,
      quarantine: fourth.quarantine,
      startAt: "start",
      ledger: new RedisTailLedger(r4, await grant(r4, "r4", 4)),
    });
    try {
      await waitFor(() => fourth.envelopes.length >= 2, { what: "the two new lines" });
      expect(fourth.contents()).toEqual(["line 21", "line 22"]);
    } finally {
      await tailer4.stop();
    }
  });
});
