import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { isFencedError, type Fence } from "../../../src/cluster/fence.js";
import { RedisStore } from "../../../src/cluster/redis-client.js";
import { RedisJournal, type RedisJournalOptions } from "../../../src/cluster/redis-journal.js";
import {
  isClawbridgeError,
  Journal,
  type JournalOptions,
  type JournalStore,
} from "../../../src/core/index.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/temp.js";

const skip = redisSkipReason();

/**
 * An owner of keyed records (`{"k":…,"v":…}`, a `{"k":…,"gone":true}` removes one): its
 * state is the latest record per key, its snapshot those records.
 */
function owner() {
  const state = new Map<string, string>();
  const applyLine = (line: string) => {
    const record = JSON.parse(line) as { k: string; gone?: boolean };
    state.delete(record.k);
    if (!record.gone) state.set(record.k, line);
  };
  const entry = (line: string, undone?: string[]) => ({
    line,
    apply: () => applyLine(line),
    undo: () => undone?.push(line),
  });
  const add = (journal: JournalStore, line: string, undone?: string[]) => journal.append(entry(line, undone));
  const snapshot = () => [...state.values()];
  return { state, applyLine, entry, add, snapshot };
}

const rec = (k: string, v: number) => JSON.stringify({ k, v });
const gone = (k: string) => JSON.stringify({ k, gone: true });

describe.skipIf(skip)("RedisJournal: a journal the replicas share, with the file Journal's meaning", () => {
  let redis: RedisServer;
  let prefixes = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });

  /** A connection closed when the test ends: before a server the test started is stopped (hooks run last first). */
  async function connect(url: string, keyPrefix: string, name = "r1"): Promise<RedisStore> {
    const store = new RedisStore({ url, keyPrefix, name });
    onTestFinished(() => store.close());
    await store.ready();
    return store;
  }

  /** A fresh key prefix on the shared server, a store on it, and journals over it. */
  async function world(url = redis.url) {
    const keyPrefix = `journal-test-${++prefixes}:`;
    const store = await connect(url, keyPrefix);
    const make = (
      snapshot: () => readonly string[],
      options: Partial<RedisJournalOptions> = {},
      on: RedisStore = store,
    ) =>
      new RedisJournal(on, {
        file: "unused.jsonl",
        kind: "test",
        version: 1,
        name: "test",
        snapshot,
        ...options,
      });
    const listKey = `${keyPrefix}journal:test`;
    const headerKey = `${listKey}:header`;
    return { store, make, keyPrefix, listKey, headerKey };
  }

  it("loads the same records as a file Journal after the same appends and compactions", async () => {
    const w = await world();
    const file = path.join(tempDir(), "test.jsonl");
    const fileOwner = owner();
    const redisOwner = owner();
    // Both rewrite themselves past 12 records, as their owners would.
    const shouldCompact = (stats: { lines: number }) => stats.lines > 12;
    const base: Omit<JournalOptions, "snapshot"> = { file, kind: "test", version: 1, shouldCompact };
    const pairs: [JournalStore, ReturnType<typeof owner>][] = [
      [new Journal({ ...base, snapshot: fileOwner.snapshot }), fileOwner],
      [w.make(redisOwner.snapshot, { shouldCompact }), redisOwner],
    ];
    for (const [journal, o] of pairs) {
      expect(await journal.load()).toEqual({ lines: [], torn: false, foundVersion: 0 });
      await o.add(journal, rec("a", 1));
      await o.add(journal, rec("b", 1));
      // Several entries at once, and one entry carrying two records.
      await journal.append([o.entry(rec("c", 1)), o.entry(rec("a", 2))]);
      await journal.append({
        line: `${rec("d", 1)}\n${rec("e", 1)}`,
        records: 2,
        apply: () => [rec("d", 1), rec("e", 1)].forEach(o.applyLine),
      });
      await o.add(journal, gone("b"));
      await journal.compact();
      for (let n = 2; n <= 8; n++) await o.add(journal, rec(n % 2 === 0 ? "c" : "d", n));
      // Past the bound between writes: rewritten by itself.
      await Promise.all(Array.from({ length: 6 }, (_, i) => o.add(journal, rec(`f${i}`, i))));
      await o.add(journal, gone("f0"));
      await journal.close();
    }
    const [fileJournal, redisJournal] = pairs.map(([journal]) => journal);
    expect(redisJournal!.counters.compactions).toBe(fileJournal!.counters.compactions);
    expect(redisJournal!.counters.compactions).toBeGreaterThanOrEqual(2);
    expect(redisJournal!.counters.lines).toBe(fileJournal!.counters.lines);

    const fromFile = await new Journal({ ...base, snapshot: () => [] }).load();
    const fromRedis = await w.make(() => []).load();
    expect(fromRedis).toEqual(fromFile);
    expect(fromRedis.foundVersion).toBe(1);
    // What each owner's state says, replayed from the lines.
    const replayed = owner();
    fromRedis.lines.forEach(replayed.applyLine);
    expect([...replayed.state.values()]).toEqual(redisOwner.snapshot());
    expect(await w.store.client.get(w.headerKey)).toBe('{"journal":"test","version":1}');
  });

  it("group-commits what is added while a write is under way", async () => {
    const w = await world();
    const o = owner();
    const journal = w.make(o.snapshot);
    await journal.load();
    const before = journal.counters.writes;
    await Promise.all(Array.from({ length: 500 }, (_, i) => o.add(journal, rec(`k${i}`, i))));
    expect(o.state.size).toBe(500);
    // One write for the first entry, one for the 499 queued behind it.
    expect(journal.counters.writes - before).toBeLessThanOrEqual(3);
    expect(journal.counters.lines).toBe(500);
    expect(await w.store.client.llen(w.listKey)).toBe(500);
    await journal.close();
  });

  it("applies an entry only after Redis has it, and undoes it when a fenced write is refused", async () => {
    const w = await world();
    const leaseKey = `${w.keyPrefix}lease:tasks`;
    await w.store.client.set(leaseKey, "r1|1");
    let fence: Fence | undefined = { key: leaseKey, value: "r1|1", token: 1, held: () => true };
    const o = owner();
    const undone: string[] = [];
    const journal = w.make(o.snapshot, { fence: () => fence });
    await journal.load();

    const write = o.add(journal, rec("a", 1), undone);
    expect(o.state.size).toBe(0);
    await write;
    expect([...o.state.keys()]).toEqual(["a"]);

    // Another replica holds the role now: Redis refuses, nothing is applied, all is undone.
    await w.store.client.set(leaseKey, "r2|2");
    const refused = await Promise.allSettled([
      o.add(journal, rec("b", 1), undone),
      o.add(journal, rec("c", 1), undone),
    ]);
    for (const result of refused) {
      expect(result.status).toBe("rejected");
      expect(isFencedError((result as PromiseRejectedResult).reason)).toBe(true);
    }
    expect(undone).toEqual([rec("b", 1), rec("c", 1)]);
    expect([...o.state.keys()]).toEqual(["a"]);
    await expect(journal.compact()).rejects.toSatisfy(isFencedError);
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual([rec("a", 1)]);

    // No fence at all (the role was lost here): refused before Redis is asked.
    fence = undefined;
    await expect(o.add(journal, rec("d", 1), undone)).rejects.toThrow(/FENCED journal test: .*does not hold/);
    expect(undone).toContain(rec("d", 1));

    // One failed write fails only its own callers: ours again, the next one goes out.
    await w.store.client.set(leaseKey, "r1|3");
    fence = { key: leaseKey, value: "r1|3", token: 3, held: () => true };
    await o.add(journal, rec("e", 1), undone);
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual([rec("a", 1), rec("e", 1)]);
    await journal.close();
  });

  it("refuses a journal written by a newer release with CB_STATE_NEWER, touching nothing", async () => {
    const w = await world();
    await w.store.client.set(w.headerKey, '{"journal":"test","version":2}');
    await w.store.client.rpush(w.listKey, "from the future");
    const journal = w.make(() => []);
    const error: unknown = await journal.load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isClawbridgeError(error, "CB_STATE_NEWER")).toBe(true);
    expect(isClawbridgeError(error, "CB_STATE_NEWER") && error.details).toMatchObject({
      file: `Redis key ${w.listKey}`,
      found: 2,
      supported: 1,
      kind: "test",
    });
    // Appends fail too (each would load first), and undo.
    const undone: string[] = [];
    await expect(owner().add(journal, rec("a", 1), undone)).rejects.toSatisfy((e) =>
      isClawbridgeError(e, "CB_STATE_NEWER"),
    );
    expect(undone).toEqual([rec("a", 1)]);
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual(["from the future"]);
    expect(await w.store.client.get(w.headerKey)).toBe('{"journal":"test","version":2}');
  });

  it("migrates an older format once: the next replica reads the current one", async () => {
    const w = await world();
    await w.store.client.set(w.headerKey, '{"journal":"test","version":1}');
    await w.store.client.rpush(w.listKey, "old-a", "old-b");
    const calls: number[] = [];
    const migrate = (lines: string[], from: number) => {
      calls.push(from);
      return lines.map((line) => line.replace("old-", "new-"));
    };
    const first = w.make(() => [], { version: 2, migrate });
    expect(await first.load()).toEqual({ lines: ["new-a", "new-b"], torn: false, foundVersion: 1 });
    await first.append({ line: "new-c" });
    await first.close();
    expect(await w.store.client.get(w.headerKey)).toBe('{"journal":"test","version":2}');

    const second = w.make(() => [], { version: 2, migrate });
    expect(await second.load()).toEqual({ lines: ["new-a", "new-b", "new-c"], torn: false, foundVersion: 2 });
    expect(calls).toEqual([1]);
    await second.close();
  });

  it("does not rewrite over records another writer added that this one has not read", async () => {
    const w = await world();
    const other = await connect(redis.url, w.keyPrefix, "r2");
    const a = owner();
    const b = owner();
    const ja = w.make(a.snapshot);
    const jb = w.make(b.snapshot, {}, other);
    await Promise.all([ja.load(), jb.load()]);
    await a.add(ja, rec("a", 1));
    await b.add(jb, rec("b", 1));
    await a.add(ja, rec("a", 2));
    // Either snapshot alone would drop the other's record: neither rewrites.
    await ja.compact();
    await jb.compact();
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual([rec("a", 1), rec("b", 1), rec("a", 2)]);
    await Promise.all([ja.close(), jb.close()]);

    // A successor that read everything rewrites as usual.
    const successor = owner();
    const next = w.make(successor.snapshot);
    (await next.load()).lines.forEach(successor.applyLine);
    await next.compact();
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual([rec("b", 1), rec("a", 2)]);
    expect(next.counters.compactions).toBe(1);
    await next.close();
  });

  it("loses nothing that resolved when Redis restarts mid-appends (append-only file), and writes nothing twice", async () => {
    const server = await startRedis({ appendOnly: true });
    const w = await world(server.url);
    const o = owner();
    const journal = w.make(o.snapshot);
    await journal.load();
    const resolved: string[] = [];
    const writes: Promise<void>[] = [];
    let n = 0;
    /** A few appends, then the rest of the turn: several writes go out while Redis restarts. */
    const burst = async () => {
      for (let i = 0; i < 5; i++, n++) {
        const line = rec(`k${n}`, n);
        writes.push(o.add(journal, line).then(() => void resolved.push(line)));
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    };
    for (let i = 0; i < 20; i++) await burst();
    let back = false;
    const restarting = server.restart().then(() => (back = true));
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < 2_000 && !back && Date.now() < deadline; i++) await burst();
    await restarting;
    const pendingWhenBack = writes.length - resolved.length;
    for (let i = 0; i < 20; i++) await burst();
    const settled = await Promise.allSettled(writes);
    // Commands wait through the outage: every append resolves once Redis is back.
    expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
    expect(resolved).toHaveLength(n);
    expect(pendingWhenBack).toBeGreaterThan(0);
    await journal.close();

    const reader = await connect(server.url, w.keyPrefix, "r2");
    const { lines } = await w.make(() => [], {}, reader).load();
    expect(new Set(lines).size).toBe(lines.length);
    expect([...lines].sort()).toEqual([...resolved].sort());
  });

  it("writes what it knows again when Redis lost the journal (restarted without its append-only file)", async () => {
    const server = await startRedis();
    const w = await world(server.url);
    const o = owner();
    const journal = w.make(o.snapshot);
    await journal.load();
    await o.add(journal, rec("a", 1));
    await o.add(journal, rec("b", 1));
    await server.restart();
    await o.add(journal, rec("c", 1));
    expect(await w.store.client.lrange(w.listKey, 0, -1)).toEqual([rec("a", 1), rec("b", 1), rec("c", 1)]);
    expect(await w.store.client.get(w.headerKey)).toBe('{"journal":"test","version":1}');
    await journal.close();
  });
});
