import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  createLogger,
  Journal,
  removeAbandonedTempFiles,
  type JournalOptions,
} from "../../../src/core/index.js";
import { logSink } from "../../helpers/log-sink.js";
import { tempDir } from "../../helpers/temp.js";

/** A journal of plain records whose state is the set of lines written (its snapshot). */
function fixture(overrides: Partial<JournalOptions> = {}) {
  const file = path.join(tempDir(), "state", "test.jsonl");
  const sink = logSink();
  const logger = createLogger({ destination: sink.stream, level: "debug", pretty: false });
  const state: string[] = [];
  const make = () =>
    new Journal({
      file,
      kind: "test",
      version: 1,
      snapshot: () => [...state],
      logger,
      ...overrides,
    });
  const add = (journal: Journal, line: string) => journal.append({ line, apply: () => state.push(line) });
  const raw = () => readFileSync(file, "utf8");
  return { file, sink, state, make, add, raw };
}

const HEADER = '{"journal":"test","version":1}';

describe("Journal", () => {
  it("starts a new file with its header and appends whole lines", async () => {
    const fx = fixture();
    const journal = fx.make();
    expect(await journal.load()).toEqual({ lines: [], torn: false, foundVersion: 0 });
    await fx.add(journal, '{"a":1}');
    await fx.add(journal, '{"a":2}');
    await journal.close();
    expect(fx.raw()).toBe(`${HEADER}\n{"a":1}\n{"a":2}\n`);
    const reopened = fx.make();
    expect((await reopened.load()).lines).toEqual(['{"a":1}', '{"a":2}']);
    await reopened.close();
  });

  it("group-commits what is added while a write is under way", async () => {
    const fx = fixture();
    const journal = fx.make();
    await journal.load();
    const before = journal.counters.writes;
    await Promise.all(Array.from({ length: 500 }, (_, i) => fx.add(journal, `{"i":${i}}`)));
    expect(fx.state).toHaveLength(500);
    // One write for the first entry, one for the 499 queued behind it.
    expect(journal.counters.writes - before).toBeLessThanOrEqual(3);
    expect(journal.counters.lines).toBe(500);
    await journal.close();
  });

  it("applies an entry only after its write, and undoes it when the write fails", async () => {
    const fx = fixture();
    const journal = fx.make();
    await journal.load();
    const seen: string[] = [];
    const write = journal.append({
      line: "x",
      apply: () => seen.push("applied"),
      undo: () => seen.push("undone"),
    });
    expect(seen).toEqual([]);
    await write;
    expect(seen).toEqual(["applied"]);
    await journal.close();
    // Appending to a closed journal is a bug of ours, said so.
    await expect(journal.append({ line: "y", undo: () => seen.push("undone") })).rejects.toMatchObject({
      code: "CB_INTERNAL",
    });
  });

  it("drops a torn last line at load and rewrites the file, so the next append starts clean", async () => {
    const fx = fixture();
    const first = fx.make();
    await first.load();
    await fx.add(first, "one");
    await first.close();
    appendFileSync(fx.file, '{"half');
    const journal = fx.make();
    const loaded = await journal.load();
    expect(loaded).toMatchObject({ lines: ["one"], torn: true });
    fx.state.splice(0, fx.state.length, "one");
    await fx.add(journal, "two");
    await journal.close();
    expect(fx.raw()).toBe(`${HEADER}\none\ntwo\n`);
    expect(fx.sink.text()).toContain("incomplete last line");
  });

  it("migrates a file written before headers existed, once, with a log line", async () => {
    const fx = fixture({ migrate: (lines, from) => lines.map((line) => `${line}@v${from}`) });
    // A headerless file as the previous release wrote it.
    mkdirSync(path.dirname(fx.file), { recursive: true });
    writeFileSync(fx.file, "id-1\nid-2\n");
    const journal = fx.make();
    expect(await journal.load()).toEqual({ lines: ["id-1@v0", "id-2@v0"], torn: false, foundVersion: 0 });
    await journal.close();
    expect(fx.raw()).toBe(`${HEADER}\nid-1@v0\nid-2@v0\n`);
    expect(fx.sink.text()).toContain("migrated to the current format");
    // Once: the second load finds the current version and changes nothing.
    const again = fx.make();
    expect(await again.load()).toEqual({ lines: ["id-1@v0", "id-2@v0"], torn: false, foundVersion: 1 });
    await again.close();
    expect(fx.sink.text().match(/migrated/g)).toHaveLength(1);
  });

  it("notices its file deleted underneath and writes what it knows again before appending", async () => {
    const fx = fixture();
    const journal = fx.make();
    await journal.load();
    await fx.add(journal, "a");
    await fx.add(journal, "b");
    rmSync(fx.file);
    await fx.add(journal, "c");
    // Nothing written went into the unlinked file: the path holds everything.
    expect(fx.raw()).toBe(`${HEADER}\na\nb\nc\n`);
    expect(fx.sink.text()).toContain("deleted or replaced underneath");
    await journal.close();
  });

  it("notices its file replaced underneath (renamed over) and rewrites it from memory", async () => {
    const fx = fixture();
    const journal = fx.make();
    await journal.load();
    await fx.add(journal, "a");
    const other = `${fx.file}.other`;
    writeFileSync(other, `${HEADER}\nsomething else\n`);
    renameSync(other, fx.file);
    await fx.add(journal, "b");
    await journal.close();
    expect(fx.raw()).toBe(`${HEADER}\na\nb\n`);
  });

  it("keeps the file bounded: shouldCompact rewrites it as the snapshot between writes", async () => {
    const fx = fixture({ shouldCompact: (stats) => stats.lines > 20 });
    const journal = fx.make();
    await journal.load();
    for (let i = 0; i < 100; i++) {
      await fx.add(journal, `r${i}`);
      // The owner's state forgets all but the newest five.
      if (fx.state.length > 5) fx.state.splice(0, fx.state.length - 5);
    }
    await journal.close();
    const lines = fx.raw().trimEnd().split("\n");
    expect(lines[0]).toBe(HEADER);
    expect(lines.length).toBeLessThanOrEqual(22);
    expect(lines.at(-1)).toBe("r99");
    expect(journal.counters.compactions).toBeGreaterThan(3);
  });

  it("leaves no temporary file behind after compactions", async () => {
    const fx = fixture({ shouldCompact: (stats) => stats.lines > 3 });
    const journal = fx.make();
    await journal.load();
    for (let i = 0; i < 20; i++) await fx.add(journal, `r${i}`);
    await journal.close();
    expect(readdirSync(path.dirname(fx.file))).toEqual(["test.jsonl"]);
  });
});

describe("removeAbandonedTempFiles", () => {
  it("removes the temp files of writers that are gone, in sub-folders too, and nothing else", async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, "mailbox"));
    const dead = 2 ** 30;
    const abandoned = path.join(dir, "mailbox", `.cursors.json.${dead}.0a1b2c3d.tmp`);
    const live = path.join(dir, `.events.log.${process.pid}.0a1b2c3d.tmp`);
    const other = path.join(dir, "notes.tmp");
    for (const file of [abandoned, live, other]) writeFileSync(file, "x");
    const removed = await removeAbandonedTempFiles(dir, ({ pid }) => pid === dead);
    expect(removed).toEqual([abandoned]);
    expect(readdirSync(dir).sort()).toEqual([path.basename(live), "mailbox", "notes.tmp"].sort());
  });
});
