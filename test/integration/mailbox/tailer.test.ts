import { promises as fs, writeFileSync } from "node:fs";
import path from "node:path";
import iconv from "iconv-lite";
import { afterEach, describe, expect, it } from "vitest";
import { readJournalLines } from "../../../src/core/index.js";
import {
  FileTailLedger,
  IncompleteBatch,
  MemoryTailLedger,
  type Tailer,
} from "../../../src/mailbox/index.js";
import { collector, memoryStore, seedLine, sharedFixture } from "../../helpers/mailbox.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const running: Tailer[] = [];
afterEach(async () => {
  for (const tailer of running.splice(0)) await tailer.stop();
});

async function startTail(
  fx: ReturnType<typeof sharedFixture>,
  c: ReturnType<typeof collector>,
  options: { watch?: "native" | "poll"; startAt?: "start" | "end"; ledger?: "file" | "memory" } = {},
) {
  const store = memoryStore(fx.root, fx.stateDir, options.watch ?? "native");
  const tailer = await store.tail({
    handler: c.handler,
    quarantine: c.quarantine,
    startAt: options.startAt ?? "start",
    ledger: options.ledger === "file" ? new FileTailLedger(fx.stateDir) : new MemoryTailLedger(),
  });
  running.push(tailer);
  return tailer;
}

describe("mailbox tailer", () => {
  it("emits two lines appended 10 ms apart, then silence (chokidar drops the trailing event)", async () => {
    const fx = sharedFixture();
    fx.write("ai-pc", "");
    const c = collector();
    await startTail(fx, c);
    fx.write("ai-pc", `${seedLine("office-mac", "ai-pc", "first")}\n`);
    await sleep(10);
    fx.write("ai-pc", `${seedLine("office-mac", "ai-pc", "second")}\n`);
    await waitFor(() => c.envelopes.length === 2, { what: "both lines" });
    expect(c.contents()).toEqual(["first", "second"]);
    expect(c.envelopes[0]!.meta).toMatchObject({ inbox: "to-ai-pc.jsonl", node: "ai-pc", offset: 0 });
  });

  it("reads a root with Chinese characters and spaces, CRLF lines, a BOM and GB18030 content", async () => {
    const fx = sharedFixture("共享 盘/Openclaw-Shared");
    const c = collector();
    const gbLine = iconv.encode(
      `${seedLine("实例A", "office-mac", "你好，我是A实例，收到请回复")}\r\n`,
      "gb18030",
    );
    writeFileSync(
      fx.inbox("office-mac"),
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(`${seedLine("instance-A", "office-mac", "带 BOM 的第一行")}\r\n`),
        gbLine,
      ]),
    );
    await startTail(fx, c);
    await waitFor(() => c.envelopes.length === 2);
    expect(c.contents()).toEqual(["带 BOM 的第一行", "你好，我是A实例，收到请回复"]);
    expect(c.envelopes.map((e) => e.meta.encoding)).toEqual(["utf-8", "gb18030"]);
    expect(c.envelopes[1]!.envelope.from).toBe("实例A");
    expect(c.quarantined).toEqual([]);
  });

  it("waits for a partial last line until it is completed", async () => {
    const fx = sharedFixture();
    const c = collector();
    const line = seedLine("a", "b", "half written");
    fx.write("b", line.slice(0, 20));
    await startTail(fx, c);
    await sleep(150);
    expect(c.envelopes).toHaveLength(0);
    fx.write("b", `${line.slice(20)}\n`);
    await waitFor(() => c.envelopes.length === 1);
    expect(c.contents()).toEqual(["half written"]);
    expect(c.quarantined).toEqual([]);
  });

  it("quarantines bad lines with file, offset and reason, and reads on", async () => {
    const fx = sharedFixture();
    const c = collector();
    const lines = [
      "{not json",
      "{",
      '  "from": "a",',
      "}",
      JSON.stringify({ hello: "world" }),
      JSON.stringify({
        from: "a",
        to: "../x",
        timestamp: "2026-02-14T18:40:00+08:00",
        type: "message",
        content: "escape",
      }),
      "[1,2]",
      seedLine("a", "b", "good"),
    ];
    fx.write("b", `${lines.join("\n")}\n`);
    await startTail(fx, c);
    await waitFor(() => c.envelopes.length === 1 && c.quarantined.length === 7);
    expect(c.contents()).toEqual(["good"]);
    const reasons = c.quarantined.map((q) => q.reason);
    expect(reasons[0]).toMatch(/^invalid JSON/);
    for (const reason of reasons.slice(1, 4)) expect(reason).toMatch(/one JSON object per line/);
    expect(reasons[4]).toMatch(/not an envelope: .*from/);
    expect(reasons[5]).toMatch(/to must be a node name/);
    expect(reasons[6]).toMatch(/not a JSON object/);
    expect(c.quarantined[0]).toMatchObject({ file: "to-b.jsonl", offset: 0, length: 9 });
    expect(c.quarantined[1]!.offset).toBe(10);
  });

  it("quarantines a 5 MB single line without holding it, and the next line is read", async () => {
    const fx = sharedFixture();
    const c = collector();
    const huge = seedLine("a", "b", "x".repeat(5 * 1024 * 1024));
    fx.write("b", `${huge}\n${seedLine("a", "b", "after the big one")}\n`);
    await startTail(fx, c);
    await waitFor(() => c.envelopes.length === 1);
    expect(c.contents()).toEqual(["after the big one"]);
    expect(c.quarantined).toHaveLength(1);
    expect(c.quarantined[0]).toMatchObject({
      file: "to-b.jsonl",
      offset: 0,
      length: Buffer.byteLength(huge),
    });
    expect(c.quarantined[0]!.reason).toMatch(/longer than maxLineBytes/);
  });

  it("re-reads a rotated file from the start without re-emitting what it emitted", async () => {
    const fx = sharedFixture();
    const c = collector();
    const one = seedLine("a", "b", "one", "2026-02-14T18:40:01+08:00");
    const two = seedLine("a", "b", "two", "2026-02-14T18:40:02+08:00");
    fx.write("b", `${one}\n${two}\n`);
    await startTail(fx, c);
    await waitFor(() => c.envelopes.length === 2);
    // The agent keeps only the last line and adds a new one: the file shrank.
    const three = seedLine("a", "b", "three", "2026-02-14T18:40:03+08:00");
    await fs.writeFile(fx.inbox("b"), `${two}\n${three}\n`);
    await waitFor(() => c.envelopes.length >= 3);
    await sleep(200);
    expect(c.contents()).toEqual(["one", "two", "three"]);
    // Replaced by a file of the same size with other first bytes.
    const four = seedLine("a", "b", "four", "2026-02-14T18:40:04+08:00");
    const five = seedLine("a", "b", "fiv5", "2026-02-14T18:40:05+08:00");
    await fs.writeFile(fx.inbox("b"), `${four}\n${five}\n`);
    await waitFor(() => c.envelopes.length >= 5);
    await sleep(200);
    expect(c.contents()).toEqual(["one", "two", "three", "four", "fiv5"]);
  });

  it("picks up new inbox files, and starts at the end of existing ones unless replaying", async () => {
    const fx = sharedFixture();
    fx.write("b", `${seedLine("a", "b", "old")}\n`);
    const c = collector();
    await startTail(fx, c, { startAt: "end" });
    fx.write("b", `${seedLine("a", "b", "new in b")}\n`);
    fx.write("c", `${seedLine("a", "c", "new file c")}\n`);
    await waitFor(() => c.envelopes.length === 2);
    expect(c.contents().sort()).toEqual(["new file c", "new in b"]);
  });

  it("polls when told to (network mounts)", async () => {
    const fx = sharedFixture();
    const c = collector();
    const tailer = await startTail(fx, c, { watch: "poll" });
    expect(tailer.watchMode?.mode).toBe("poll");
    fx.write("b", `${seedLine("a", "b", "polled")}\n`);
    await waitFor(() => c.envelopes.length === 1);
    expect(c.contents()).toEqual(["polled"]);
  });

  it("resumes after a restart from the persisted cursor: nothing twice, nothing skipped", async () => {
    const fx = sharedFixture();
    const first = collector();
    const lines = Array.from({ length: 50 }, (_, i) =>
      seedLine("a", "b", `m${i}`, `2026-02-14T18:40:${String(i).padStart(2, "0")}+08:00`),
    );
    fx.write("b", `${lines.slice(0, 30).join("\n")}\n`);
    const tailer = await startTail(fx, first, { ledger: "file" });
    await waitFor(() => first.envelopes.length === 30);
    await tailer.stop();
    running.splice(running.indexOf(tailer), 1);
    fx.write("b", `${lines.slice(30).join("\n")}\n`);
    const second = collector();
    await startTail(fx, second, { ledger: "file" });
    await waitFor(() => second.envelopes.length === 20);
    await sleep(150);
    expect([...first.contents(), ...second.contents()]).toEqual(lines.map((_, i) => `m${i}`));
    await running.pop()!.stop();
    const cursors = JSON.parse(await fs.readFile(path.join(fx.stateDir, "mailbox", "cursors.json"), "utf8"));
    expect(cursors["to-b.jsonl"].offset).toBe((await fs.stat(fx.inbox("b"))).size);
  });

  it("a failing handler is retried from the failed line; nothing before it repeats", async () => {
    const fx = sharedFixture();
    const lines = ["a", "b", "c", "d"].map((x, i) => seedLine("x", "b", x, `2026-02-14T18:40:0${i}+08:00`));
    fx.write("b", `${lines.join("\n")}\n`);
    const seen: string[] = [];
    let failures = 0;
    const store = memoryStore(fx.root, fx.stateDir);
    const c = collector();
    const tailer = await store.tail({
      startAt: "start",
      ledger: new MemoryTailLedger(),
      quarantine: c.quarantine,
      handler: async (envelope) => {
        if (envelope.content === "c" && failures++ === 0) throw new Error("gateway offline");
        seen.push(envelope.content);
      },
    });
    running.push(tailer);
    await waitFor(() => seen.length === 4, { what: "retry after the failure" });
    await sleep(100);
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(failures).toBe(2);
  });

  it("hands a batch handler a chunk at once; after a partial failure only the unhandled lines come again", async () => {
    const fx = sharedFixture();
    const contents = ["a", "b", "c", "d", "e"];
    const lines = contents.map((x, i) => seedLine("x", "b", x, `2026-02-14T18:40:0${i}+08:00`));
    fx.write("b", `${lines.join("\n")}\n`);
    const batches: string[][] = [];
    const handled: string[] = [];
    const tailer = await memoryStore(fx.root, fx.stateDir).tail({
      startAt: "start",
      ledger: new MemoryTailLedger(),
      quarantine: collector().quarantine,
      handleBatch: async (batch) => {
        const names = batch.map(({ envelope }) => envelope.content);
        batches.push(names);
        if (batches.length === 1) {
          // The first two are done, then the third fails: "outbox full".
          handled.push(...names.slice(0, 2));
          throw new IncompleteBatch(2, new Error("outbox full"));
        }
        handled.push(...names);
      },
    });
    running.push(tailer);
    await waitFor(() => handled.length === 5, {
      what: "the retry after the partial failure",
      timeoutMs: 5_000,
    });
    await sleep(100);
    // One chunk at first (all five lines), then only the three that were not handled.
    expect(batches).toEqual([contents, ["c", "d", "e"]]);
    expect(handled).toEqual(contents);
  });

  it("by default keeps bad lines in state.dir/quarantine.jsonl with file, offset and reason", async () => {
    const fx = sharedFixture();
    fx.write("b", `${seedLine("a", "b", "ok")}\n{"pretty": \n`);
    const store = memoryStore(fx.root, fx.stateDir);
    const c = collector();
    const tailer = await store.tail({ handler: c.handler, startAt: "start", ledger: new MemoryTailLedger() });
    running.push(tailer);
    const file = path.join(fx.stateDir, "quarantine.jsonl");
    const records = await waitFor(async () => {
      const lines = await readJournalLines(file);
      return lines.length > 0 ? lines.map((l) => JSON.parse(l)) : undefined;
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      file: "to-b.jsonl",
      offset: Buffer.byteLength(seedLine("a", "b", "ok")) + 1,
    });
    expect(records[0].reason).toMatch(/invalid JSON/);
    expect(Date.parse(records[0].at)).not.toBeNaN();
    expect(c.contents()).toEqual(["ok"]);
  });

  it("accepts a handler typed void that returns a value at run time (like stream.write)", async () => {
    const fx = sharedFixture();
    fx.write(
      "b",
      `${seedLine("a", "b", "one", "2026-02-14T18:40:01+08:00")}\n${seedLine("a", "b", "two", "2026-02-14T18:40:02+08:00")}\n`,
    );
    const printed: string[] = [];
    const print: (text: string) => void = (text) => printed.push(text);
    const tailer = await memoryStore(fx.root, fx.stateDir).tail({
      startAt: "start",
      ledger: new MemoryTailLedger(),
      quarantine: collector().quarantine,
      handler: (envelope) => print(envelope.content),
    });
    running.push(tailer);
    await waitFor(() => printed.length === 2);
    await sleep(100);
    expect(printed).toEqual(["one", "two"]);
  });

  it("backs off while a handler keeps failing, whatever events arrive meanwhile", async () => {
    const fx = sharedFixture();
    fx.write("b", `${seedLine("x", "b", "poison")}\n`);
    let attempts = 0;
    const tailer = await memoryStore(fx.root, fx.stateDir).tail({
      startAt: "start",
      ledger: new MemoryTailLedger(),
      quarantine: collector().quarantine,
      handler: () => {
        attempts++;
        throw new Error("node offline");
      },
    });
    running.push(tailer);
    // Appends keep producing change events for at least 2.5 s.
    const started = Date.now();
    for (let i = 0; i < 25; i++) {
      fx.write("b", `${seedLine("x", "b", `more ${i}`)}\n`);
      await sleep(100);
    }
    const elapsedS = (Date.now() - started) / 1000;
    // The first try, then retries 1 s, 3 s, 7 s … after it: events in between add no attempts.
    const retriesDue = [1, 3, 7, 15, 31].filter((at) => at <= elapsedS + 0.5).length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(1 + retriesDue);
  });
});
