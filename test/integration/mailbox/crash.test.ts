import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEnvelopeLine } from "../../../src/mailbox/index.js";
import { collector, memoryStore, tailInto, seedLine, sharedFixture } from "../../helpers/mailbox.js";
import { finished, spawnTs } from "../../helpers/spawn.js";
import { wholeLines } from "../../helpers/torn-tail.js";
import { sleep, waitFor } from "../../helpers/wait.js";

function linesFor(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    seedLine("office-mac", "ai-pc", `消息 ${from + i} ${"x".repeat(80)}`, `2026-02-14T18:40:00+08:00`),
  );
}

function idsOf(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l)
    .map((l) => {
      const parsed = parseEnvelopeLine(l, path.basename(file));
      if (parsed.kind !== "envelope") throw new Error(`bad line in fixture: ${l}`);
      return parsed.envelope.id;
    });
}

async function startWorker(fx: ReturnType<typeof sharedFixture>, mode: "sink" | "file", out: string) {
  const child = spawnTs("test/helpers/tail-worker.ts", [fx.root, fx.stateDir, mode, out]);
  const done = finished(child);
  let ready = false;
  child.stdout!.on("data", (chunk: Buffer) => {
    if (chunk.toString().includes("ready")) ready = true;
  });
  return { child, done, ready: () => ready };
}

function readDelivered(out: string, mode: "sink" | "file"): string[] {
  return wholeLines(out)
    .map((l) => (mode === "sink" ? (JSON.parse(l) as { id?: string }).id : l))
    .filter((id): id is string => Boolean(id));
}

async function killRestartCycle(mode: "sink" | "file") {
  const fx = sharedFixture();
  const out = path.join(fx.base, "delivered.jsonl");
  fx.write("ai-pc", `${linesFor(0, 20_000).join("\n")}\n`);
  let written = 20_000;
  const progressAtKill: number[] = [];
  for (let round = 0; round < 5; round++) {
    const before = new Set(readDelivered(out, mode)).size;
    fx.write("ai-pc", `${linesFor(written, 2_000).join("\n")}\n`);
    written += 2_000;
    const worker = await startWorker(fx, mode, out);
    // Kill it once it has started delivering, at a random moment while it reads.
    await waitFor(() => new Set(readDelivered(out, mode)).size > before, {
      intervalMs: 2,
      what: "delivery started",
    });
    await sleep(Math.random() * 20);
    worker.child.kill("SIGKILL");
    const exit = await worker.done;
    expect(exit.signal).toBe("SIGKILL");
    progressAtKill.push(new Set(readDelivered(out, mode)).size / written);
  }
  const expected = idsOf(fx.inbox("ai-pc"));
  expect(new Set(expected).size).toBe(written);
  const last = await startWorker(fx, mode, out);
  await waitFor(() => new Set(readDelivered(out, mode)).size === written, {
    timeoutMs: 30_000,
    what: "all envelopes delivered",
  });
  await sleep(300);
  last.child.kill("SIGTERM");
  await last.done;
  return { expected, delivered: readDelivered(out, mode), progressAtKill };
}

describe("tailer killed with SIGKILL mid-file", () => {
  it("with a consumer that records position with its effect: every envelope exactly once", async () => {
    const { expected, delivered, progressAtKill } = await killRestartCycle("sink");
    // The kills really landed mid-file: some progress was made, and not all of it.
    expect(
      progressAtKill.some((share) => share > 0 && share < 1),
      progressAtKill.join(", "),
    ).toBe(true);
    expect(delivered).toHaveLength(expected.length);
    expect(new Set(delivered)).toEqual(new Set(expected));
  }, 120_000);

  it("with the default ledger: nothing skipped, and order kept per file", async () => {
    const { expected, delivered } = await killRestartCycle("file");
    expect(new Set(delivered)).toEqual(new Set(expected));
    // Redelivery can only repeat the batch in flight at a kill, so first occurrences keep file order.
    const firstSeen = [...new Set(delivered)];
    expect(firstSeen).toEqual(expected);
  }, 120_000);
});

describe("a writer killed mid-line", () => {
  it("leaves a fragment that is quarantined; the next appended line is intact", async () => {
    const fx = sharedFixture();
    writeFileSync(fx.inbox("b"), `${seedLine("a", "b", "before")}\n`);
    const exit = await finished(spawnTs("test/helpers/fragment-writer.ts", [fx.inbox("b")]));
    expect(exit.signal).toBe("SIGKILL");
    const store = memoryStore(fx.root, fx.stateDir);
    await store.append({ from: "a", to: "b", type: "message", content: "after" });
    const c = collector();
    const tailer = await tailInto(store, c);
    await waitFor(() => c.envelopes.length === 2 && c.quarantined.length === 1);
    await tailer.stop();
    expect(c.contents()).toEqual(["before", "after"]);
    expect(c.quarantined[0]!.reason).toMatch(/invalid JSON/);
    expect(c.quarantined[0]!.sample).toContain("dying-agent");
  });
});
