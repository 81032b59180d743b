import { promises as fs, readFileSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import {
  FsMailboxStore,
  appendLines,
  assertNodeName,
  mailboxLayout,
  nodeOfInboxFile,
  readStatuses,
  withFileLock,
  writeOwnStatus,
} from "../../../src/mailbox/index.js";
import { tempDir } from "../../helpers/temp.js";

describe("file lock", () => {
  it("a held lock makes others wait, then fail naming the holder", async () => {
    const dir = tempDir();
    const file = path.join(dir, "to-b.jsonl");
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ host: "office-mac", pid: 4242, since: "2026-02-14T18:40:00+08:00" }),
    );
    const error = await appendLines(file, ["{}"], { staleMs: 60_000, timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(isClawbridgeError(error, "CB_MAILBOX_LOCKED")).toBe(true);
    expect(String((error as Error).message)).toContain("pid 4242 on office-mac");
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it("a stale lock (old mtime) is broken and the append goes through", async () => {
    const dir = tempDir();
    const file = path.join(dir, "to-b.jsonl");
    writeFileSync(`${file}.lock`, JSON.stringify({ host: "gone", pid: 1, since: "2026-01-01T00:00:00Z" }));
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(`${file}.lock`, old, old);
    await appendLines(file, ['{"a":1}'], { staleMs: 10_000, timeoutMs: 5_000 });
    expect(await fs.readFile(file, "utf8")).toBe('{"a":1}\n');
    await expect(fs.stat(`${file}.lock`)).rejects.toThrow();
  });

  it("a busy lock on one inbox does not delay an append to another", async () => {
    const dir = tempDir();
    const a = path.join(dir, "to-a.jsonl");
    const b = path.join(dir, "to-b.jsonl");
    // Another writer holds to-a.jsonl.lock for as long as this test runs.
    writeFileSync(
      `${a}.lock`,
      JSON.stringify({ host: "office-mac", pid: 4242, since: "2026-02-14T18:40:00+08:00" }),
    );
    let aSettled = false;
    const waitingForA = appendLines(a, ['{"to":"a"}'], { staleMs: 60_000, timeoutMs: 3_000 }).catch(
      (e: unknown) => {
        aSettled = true;
        return e;
      },
    );
    // While the append to a waits out its 3 s, 50 appends to b all go through.
    for (let i = 0; i < 50; i++) {
      await appendLines(b, [`{"to":"b","i":${i}}`], { staleMs: 60_000, timeoutMs: 3_000 });
    }
    expect(aSettled).toBe(false);
    expect(readFileSync(b, "utf8").trimEnd().split("\n")).toHaveLength(50);
    const error = await waitingForA;
    expect(isClawbridgeError(error, "CB_MAILBOX_LOCKED")).toBe(true);
    await expect(fs.stat(a)).rejects.toThrow();
  });

  it("takes over at once a lock left by a process of this host that is gone", async () => {
    const dir = tempDir();
    const file = path.join(dir, "to-b.jsonl");
    // A fresh mtime: only the dead pid says it is abandoned.
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ host: os.hostname(), pid: 2 ** 30, since: "2026-01-01T00:00:00Z" }),
    );
    // With a timeout too short to wait for anything: the dead holder is judged at first sight.
    await appendLines(file, ['{"a":1}'], { staleMs: 60_000, timeoutMs: 0 });
    expect(readFileSync(file, "utf8")).toBe('{"a":1}\n');
  });

  it("withFileLock holds {host, pid, since} while the function runs", async () => {
    const dir = tempDir();
    const file = path.join(dir, "x");
    const holder = await withFileLock(file, { staleMs: 10_000 }, async () =>
      JSON.parse(await fs.readFile(`${file}.lock`, "utf8")),
    );
    expect(holder).toMatchObject({ host: os.hostname(), pid: process.pid });
    expect(Date.parse(holder.since)).not.toBeNaN();
  });

  it("puts a newline first when the file ends in a fragment", async () => {
    const dir = tempDir();
    const file = path.join(dir, "to-b.jsonl");
    writeFileSync(file, '{"half');
    await appendLines(file, ['{"whole":1}', '{"whole":2}'], { staleMs: 10_000 });
    expect(await fs.readFile(file, "utf8")).toBe('{"half\n{"whole":1}\n{"whole":2}\n');
  });

  it("leaves out, under the lock, lines whose id the file holds already", async () => {
    const dir = tempDir();
    const file = path.join(dir, "to-b.jsonl");
    const lock = { staleMs: 10_000 };
    // Written by someone else (an agent, another replica) since this process last looked.
    writeFileSync(file, '{"id":"a","n":1}\nnot json\n{"nested":{"id":"c"}}\n');
    await appendLines(file, ['{"id":"a","n":2}', '{"id":"b","n":1}'], lock, ["a", "b"]);
    // Appended behind the index's back, then a retry of the same batch plus one new line.
    await fs.appendFile(file, '{"id":"d","n":1}\n');
    await appendLines(file, ['{"id":"b","n":2}', '{"id":"c","n":1}', '{"id":"d","n":2}'], lock, [
      "b",
      "c",
      "d",
    ]);
    // Without ids nothing is checked.
    await appendLines(file, ['{"id":"a","n":3}'], lock);
    expect((await fs.readFile(file, "utf8")).split("\n")).toEqual([
      '{"id":"a","n":1}',
      "not json",
      '{"nested":{"id":"c"}}',
      '{"id":"b","n":1}',
      '{"id":"d","n":1}',
      '{"id":"c","n":1}',
      '{"id":"a","n":3}',
      "",
    ]);
  });
});

describe("node names and paths", () => {
  it("rejects names that could leave the root", () => {
    for (const bad of ["../x", "a/b", "..", "", "a b", "x\\y", "-lead"]) {
      expect(() => assertNodeName(bad), bad).toThrow(/not a valid node name/);
    }
    expect(nodeOfInboxFile("to-ai-pc.jsonl")).toBe("ai-pc");
    expect(nodeOfInboxFile("to-../x.jsonl")).toBeUndefined();
    expect(nodeOfInboxFile("to-b.jsonl.lock")).toBeUndefined();
  });

  it("the store refuses an envelope addressed to ../x and writes nothing", async () => {
    const root = tempDir();
    const store = new FsMailboxStore({ root, self: "clawbridge", stateDir: path.join(root, ".state") });
    const error = await store
      .append({ from: "a", to: "../x", type: "message", content: "escape" })
      .catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_MAILBOX_INVALID_ENVELOPE")).toBe(true);
    await expect(fs.stat(path.join(root, "x.jsonl"))).rejects.toThrow();
    await expect(fs.stat(path.join(root, "messages"))).rejects.toThrow();
  });

  it("the store says clearly when the shared root is missing", async () => {
    const root = path.join(tempDir(), "not-mounted");
    const store = new FsMailboxStore({ root, self: "clawbridge", stateDir: tempDir() });
    const error = await store
      .append({ from: "a", to: "b", type: "message", content: "x" })
      .catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_MAILBOX_ROOT_MISSING")).toBe(true);
    expect((error as { fix: string }).fix).toMatch(/mount/);
  });
});

describe("status files", () => {
  it("writes our own atomically and reads every node's, broken ones included", async () => {
    const root = tempDir();
    const layout = mailboxLayout(root);
    await fs.mkdir(layout.statusDir, { recursive: true });
    await writeOwnStatus(layout, "clawbridge", {
      node: "clawbridge",
      state: "running",
      intervalMs: 15_000,
      updatedAt: "2026-02-14T18:40:00+08:00",
    });
    writeFileSync(
      path.join(layout.statusDir, "instance-A.json"),
      '\uFEFF{"status":"idle","timestamp":"2026-02-14T18:39:00+08:00"}',
    );
    writeFileSync(path.join(layout.statusDir, "instance-B.json"), "{oops");
    const statuses = await readStatuses(layout);
    const byNode = Object.fromEntries(statuses.map((s) => [s.node, s]));
    expect(byNode.clawbridge).toMatchObject({
      intervalMs: 15_000,
      updatedAt: Date.parse("2026-02-14T18:40:00+08:00"),
    });
    expect(byNode["instance-A"]).toMatchObject({
      updatedAt: Date.parse("2026-02-14T18:39:00+08:00"),
      raw: { status: "idle" },
    });
    expect(byNode["instance-B"]!.error).toMatch(/invalid JSON/);
    expect((await fs.readdir(layout.statusDir)).sort()).toEqual([
      "clawbridge.json",
      "instance-A.json",
      "instance-B.json",
    ]);
  });
});
