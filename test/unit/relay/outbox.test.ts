import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/index.js";
import { deferred } from "../../../src/feishu/outbound/deferred.js";
import { Outbox, type OutboxItem } from "../../../src/relay/outbox.js";
import { outboxFileName, readJournal } from "../../../src/relay/outbox-journal.js";
import { tempDir } from "../../helpers/temp.js";

interface Payload {
  text: string;
}

function item(id: string, extra: Partial<OutboxItem<Payload>> = {}): OutboxItem<Payload> {
  return { id, payload: { text: `text of ${id}` }, enqueuedAt: 1_000, attempts: 0, ...extra };
}

async function open(dir: string, capacity = 10, extra: { rememberDone?: number } = {}) {
  const outbox = new Outbox<Payload>({ dir, target: "ai-pc", capacity, clock: new ManualClock(), ...extra });
  await outbox.load();
  return outbox;
}

/** An outbox whose items' lane is the part of their text before ":". */
async function openWithLanes(dir: string) {
  const laneOf = (payload: Payload) => payload.text.split(":")[0]!;
  const outbox = new Outbox<Payload>({
    dir,
    target: "ai-pc",
    capacity: 10,
    clock: new ManualClock(),
    laneOf,
  });
  await outbox.load();
  return outbox;
}

const ids = (outbox: Outbox<Payload>) => outbox.pending().map((i) => i.id);
/** The journal's records as written (its header line left out). */
const journalLines = (outbox: Outbox<Payload>) =>
  readFileSync(outbox.file, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith('{"journal":'));

describe("Outbox", () => {
  it("queues in order, answers duplicate for pending and done ids, and overflow at capacity", async () => {
    const outbox = await open(tempDir(), 3);
    expect(await outbox.put([item("a"), item("b")])).toEqual(["queued", "queued"]);
    expect(await outbox.put(item("a"))).toEqual(["duplicate"]);
    expect(await outbox.put([item("c"), item("c"), item("d")])).toEqual(["queued", "duplicate", "overflow"]);
    expect(ids(outbox)).toEqual(["a", "b", "c"]);
    expect(outbox.peek()?.id).toBe("a");
    await outbox.done("b");
    expect(ids(outbox)).toEqual(["a", "c"]);
    expect(outbox.size).toBe(2);
    expect(outbox.has("b")).toBe(true);
    expect(outbox.has("d")).toBe(false);
    expect(await outbox.put([item("b"), item("d")])).toEqual(["duplicate", "queued"]);
    await outbox.done("nobody");
    await outbox.close();
  });

  it("reloads pending items in order and remembers done ids after close", async () => {
    const dir = tempDir();
    const first = await open(dir);
    const source = { inbox: "to-ai-pc.jsonl", end: 120 };
    await first.put([item("a", { source }), item("b"), item("c")]);
    await first.done("b");
    first.attempt("a", new Error("gateway offline"));
    expect(first.peek()).toMatchObject({ attempts: 1, lastError: "gateway offline" });
    await first.close();
    await expect(first.put(item("z"))).rejects.toMatchObject({ code: "CB_INTERNAL" });

    const second = await open(dir);
    expect(ids(second)).toEqual(["a", "c"]);
    // Attempts are counted in memory: a restart starts from what was stored.
    expect(second.peek()).toEqual(item("a", { source }));
    expect(second.has("b")).toBe(true);
    expect(await second.put(item("b"))).toEqual(["duplicate"]);
    expect(second.sourceOf("a")).toEqual(source);
    expect(second.seq).toBe(3);
    await second.put(item("d"));
    expect(second.seq).toBe(4);
  });

  it("ignores a torn last line, and the next append starts on a line of its own", async () => {
    const dir = tempDir();
    const first = await open(dir);
    await first.put([item("a"), item("b")]);
    await first.close();
    // A crash in the middle of writing `done a` and a put.
    appendFileSync(first.file, '{"op":"done","id":"a","seq":1}\n{"op":"put","seq":3,"item":{"id":"x","pay');
    const second = await open(dir);
    expect(ids(second)).toEqual(["b"]);
    expect(second.has("x")).toBe(false);
    await second.put(item("c"));
    await second.close();
    const journal = await readJournal(second.file);
    expect(journal).toMatchObject({ torn: false, bad: 0 });
    const third = await open(dir);
    expect(ids(third)).toEqual(["b", "c"]);
    expect(third.has("a")).toBe(true);
  });

  it("a done that was not written leaves the item pending", async () => {
    const dir = tempDir();
    const first = await open(dir);
    await first.put([item("a"), item("b")]);
    await first.close();
    appendFileSync(first.file, '{"op":"done","id":"a"');
    expect(ids(await open(dir))).toEqual(["a", "b"]);
  });

  it("compacts to pending items and recent done ids, keeping order and bounding the file", async () => {
    const dir = tempDir();
    const outbox = await open(dir, 5, { rememberDone: 20 });
    let next = 0;
    for (let round = 0; round < 60; round++) {
      await outbox.put([item(`m${next++}`), item(`m${next++}`)]);
      // Deliver the oldest two, leaving a few behind.
      if (outbox.size > 3) for (const id of ids(outbox).slice(0, 2)) await outbox.done(id);
      expect(journalLines(outbox).length).toBeLessThanOrEqual(1 + 20 + 5 + 2 * 5 + 2);
    }
    expect(outbox.stats().compactions).toBeGreaterThan(3);
    const pendingBefore = ids(outbox);
    expect(pendingBefore.length).toBeGreaterThan(0);
    await outbox.close();
    const reloaded = await open(dir, 5, { rememberDone: 20 });
    expect(ids(reloaded)).toEqual(pendingBefore);
    expect(reloaded.seq).toBe(next);
    // Recent done ids are still duplicates; the oldest are forgotten and may come again.
    const doneRecently = `m${next - pendingBefore.length - 1}`;
    expect(reloaded.has(doneRecently)).toBe(true);
    expect(await reloaded.put([item(doneRecently), item("m0")])).toEqual(["duplicate", "queued"]);
    expect(ids(reloaded).at(-1)).toBe("m0");
  });

  it("groups concurrent puts and dones into few writes", async () => {
    const outbox = await open(tempDir(), 500);
    const writesAtStart = outbox.stats().writes;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => outbox.put(item(`c${i}`, { payload: { text: "x" } }))),
    );
    expect(results.flat().every((r) => r === "queued")).toBe(true);
    expect(journalLines(outbox)).toHaveLength(200);
    expect(outbox.stats().writes - writesAtStart).toBeLessThanOrEqual(2);
    const writesBefore = outbox.stats().writes;
    await Promise.all(ids(outbox).map((id) => outbox.done(id)));
    expect(outbox.stats().writes - writesBefore).toBeLessThanOrEqual(2);
    expect(outbox.size).toBe(0);
  });

  it("counts an id being put as present: a concurrent duplicate waits for the same write", async () => {
    const outbox = await open(tempDir());
    const [first, second] = await Promise.all([outbox.put(item("a")), outbox.put(item("a"))]);
    expect([first, second]).toEqual([["queued"], ["duplicate"]]);
    const [doneOnce] = await Promise.all([outbox.done("a"), outbox.done("a")]);
    expect(doneOnce).toBeUndefined();
    expect(journalLines(outbox).filter((l) => l.includes('"done"'))).toHaveLength(1);
  });

  it("rejects a payload that is not JSON without reserving anything", async () => {
    const outbox = new Outbox<unknown>({ dir: tempDir(), target: "ai-pc", capacity: 2 });
    await outbox.load();
    await expect(outbox.put([{ id: "a", payload: 1n, enqueuedAt: 0, attempts: 0 }])).rejects.toThrow();
    expect(outbox.has("a")).toBe(false);
    expect(await outbox.put({ id: "a", payload: 1, enqueuedAt: 0, attempts: 0 })).toEqual(["queued"]);
  });

  it("a failed write fails its callers only, leaves no glued line behind, and loses nothing pending", async () => {
    const dir = tempDir();
    const outbox = await open(dir);
    await outbox.put(item("a"));
    // The journal cannot be appended to: its path is now a folder.
    rmSync(outbox.file);
    mkdirSync(outbox.file);
    await expect(outbox.put(item("b"))).rejects.toMatchObject({ code: "CB_STATE_IO" });
    expect(outbox.has("b")).toBe(false);
    rmSync(outbox.file, { recursive: true });
    expect(await outbox.put(item("c"))).toEqual(["queued"]);
    await outbox.close();
    expect((await readJournal(outbox.file)).bad).toBe(0);
    // The journal noticed its file gone and wrote what it holds again: "a" is still pending.
    expect(ids(await open(dir))).toEqual(["a", "c"]);
  });

  it("must be loaded before use", async () => {
    const outbox = new Outbox<Payload>({ dir: tempDir(), target: "ai-pc", capacity: 1 });
    await expect(outbox.put(item("a"))).rejects.toMatchObject({ code: "CB_INTERNAL" });
  });

  it("names journals so any target is a portable file name", () => {
    expect(outboxFileName("ai-pc")).toBe("ai-pc.jsonl");
    expect(outboxFileName("feishu:oc_12ab")).toBe("feishu%3Aoc_12ab.jsonl");
    expect(outboxFileName("../办公")).toBe("%2E%2E%2F%E5%8A%9E%E5%85%AC.jsonl");
    const outbox = new Outbox({ dir: "/state/outbox", target: "feishu:oc_1", capacity: 1 });
    expect(path.basename(outbox.file)).toBe("feishu%3Aoc_1.jsonl");
  });

  it("laneHeads gives the oldest waiting item of each lane, oldest first, also after a reload", async () => {
    const dir = tempDir();
    const make = () => openWithLanes(dir);
    const outbox = await make();
    const put = (id: string, lane: string) => outbox.put({ ...item(id), payload: { text: `${lane}:${id}` } });
    await put("a1", "a");
    await put("b1", "b");
    await put("a2", "a");
    await put("c1", "c");
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["a1", "b1", "c1"]);
    await outbox.done("a1");
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["b1", "a2", "c1"]);
    await outbox.close();
    const reloaded = await make();
    expect([...reloaded.laneHeads()].map((i) => i.id)).toEqual(["b1", "a2", "c1"]);
    await reloaded.done("b1");
    expect([...reloaded.laneHeads()].map((i) => i.id)).toEqual(["a2", "c1"]);
  });

  it("takes an item out of its lane as soon as it is being marked done, and back if the mark fails", async () => {
    const dir = tempDir();
    const outbox = await openWithLanes(dir);
    await outbox.put(["a1", "a2", "a3"].map((id) => ({ ...item(id), payload: { text: `a:${id}` } })));
    const marked = outbox.done("a1");
    // Before the mark is written the lane's next item is its head: the loop goes on at once.
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["a2"]);
    expect(outbox.laneItems("a", 10).map((i) => i.id)).toEqual(["a2", "a3"]);
    await marked;
    expect(ids(outbox)).toEqual(["a2", "a3"]);
    // A mark that cannot be written leaves the item where it was: it is delivered again.
    rmSync(dir, { recursive: true, force: true });
    await expect(outbox.done("a2")).rejects.toThrow();
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["a2"]);
  });

  it("writes a mark that waits for the item's effects only once they are written, and none if they fail", async () => {
    const dir = tempDir();
    const outbox = await openWithLanes(dir);
    await outbox.put(["a1", "a2", "b1"].map((id) => ({ ...item(id), payload: { text: `${id[0]}:${id}` } })));
    const written = deferred<void>();
    const failed = deferred<void>();
    const a1 = outbox.done("a1", written.promise);
    const b1 = outbox.done("b1", failed.promise);
    // Out of their lanes at once; nothing in the journal while their effects are on the way.
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["a2"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(journalLines(outbox).filter((l) => l.includes('"op":"done"'))).toEqual([]);
    written.resolve();
    await a1;
    expect(
      journalLines(outbox)
        .filter((l) => l.includes('"op":"done"'))
        .map((l) => JSON.parse(l).id),
    ).toEqual(["a1"]);
    // Effects that failed: no mark, and the item is back at its lane's head to be tried again.
    failed.reject(new Error("answer not written"));
    await expect(b1).rejects.toThrow("answer not written");
    expect(ids(outbox)).toEqual(["a2", "b1"]);
    expect([...outbox.laneHeads()].map((i) => i.id)).toEqual(["a2", "b1"]);
    await outbox.close();
    const again = await openWithLanes(dir);
    expect(ids(again)).toEqual(["a2", "b1"]);
    await again.close();
  });
});
