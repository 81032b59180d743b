import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../../src/core/index.js";
import type { EnvelopeMeta, InboxCheckpoint } from "../../../src/mailbox/index.js";
import { Outbox, type PutResult } from "../../../src/relay/outbox.js";
import { OutboxTailLedger } from "../../../src/relay/outbox-tail-ledger.js";
import { collector, memoryStore, sharedFixture } from "../../helpers/mailbox.js";

/** A line with an explicit id, as `clawbridge send` writes them; ids of one length give lines of one length. */
function line(to: string, id: string): string {
  return JSON.stringify({
    from: "office-mac",
    to,
    timestamp: "2026-02-14T18:40:00+08:00",
    type: "message",
    content: `内容 ${id}`,
    id,
  });
}

function lines(to: string, prefix: string, count: number): string {
  return Array.from(
    { length: count },
    (_, i) => `${line(to, `${prefix}-${String(i).padStart(3, "0")}`)}\n`,
  ).join("");
}

/** The state of a crash before the tailer's cursors were saved: the checkpoint never reaches disk. */
class CrashingLedger extends OutboxTailLedger {
  override saveCheckpoint(_inbox: string, _checkpoint: InboxCheckpoint): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * One run of a relay-like consumer: envelopes for `ai-pc` go into its outbox with their
 * source; those for `paper` (a mailbox-only node) go nowhere. Returns what the handler saw.
 */
async function run(
  fx: ReturnType<typeof sharedFixture>,
  options: { crash?: boolean; deliver?: number } = {},
) {
  const outbox = new Outbox<Envelope>({
    dir: path.join(fx.stateDir, "outbox"),
    target: "ai-pc",
    capacity: 1_000,
  });
  await outbox.load();
  const Ledger = options.crash ? CrashingLedger : OutboxTailLedger;
  const ledger = new Ledger(fx.stateDir, () => [outbox as Outbox<unknown>]);
  const seen = collector();
  const results: PutResult[] = [];
  const store = memoryStore(fx.root, fx.stateDir, "poll");
  const tailer = await store.tail({
    startAt: "start",
    ledger,
    quarantine: seen.quarantine,
    handler: async (envelope: Envelope, meta: EnvelopeMeta) => {
      seen.handler(envelope, meta);
      if (envelope.to !== "ai-pc") return;
      const source = { inbox: meta.inbox, end: meta.end };
      results.push(
        ...(await outbox.put({ id: envelope.id, payload: envelope, source, enqueuedAt: 0, attempts: 0 })),
      );
    },
  });
  await tailer.idle();
  // Some of the work is delivered: done ids must count as read too.
  for (const item of outbox.pending().slice(0, options.deliver ?? 0)) await outbox.done(item.id);
  await tailer.stop();
  await outbox.close();
  return { ids: seen.ids(), results, pending: outbox.pending().map((i) => i.id), ledger };
}

const HEADER = '{"journal":"outbox-ledger","version":1}';

describe("OutboxTailLedger", () => {
  it("after a crash before the cursors were saved, the tailer skips every line already put or handled", async () => {
    const fx = sharedFixture();
    fx.write("ai-pc", lines("ai-pc", "a", 30));
    fx.write("paper", lines("paper", "p", 5));
    const first = await run(fx, { crash: true, deliver: 10 });
    expect(first.ids).toHaveLength(35);
    expect(first.results.filter((r) => r === "queued")).toHaveLength(30);

    fx.write("ai-pc", lines("ai-pc", "b", 2));
    fx.write("paper", lines("paper", "q", 1));
    const second = await run(fx);
    expect(second.ids.sort()).toEqual(["b-000", "b-001", "q-000"]);
    expect(second.results).toEqual(["queued", "queued"]);
    expect(second.pending).toHaveLength(22);
    // Only the line that went into no outbox is in the ledger's own journal (once per run).
    const journal = readFileSync(second.ledger.file, "utf8");
    expect(journal.match(/"id":"p-\d+"/g)).toHaveLength(5);
    expect(journal).not.toContain('"id":"a-');
  });

  it("after a rotation, ends from the old file do not count, ids still do", async () => {
    const fx = sharedFixture();
    fx.write("ai-pc", lines("ai-pc", "o", 20));
    expect((await run(fx, { deliver: 5 })).ids).toHaveLength(20);
    const oldSize = readFileSync(fx.inbox("ai-pc")).length;
    // The inbox is replaced by a shorter file that repeats one old line.
    writeFileSync(fx.inbox("ai-pc"), `${line("ai-pc", "o-019")}\n${lines("ai-pc", "n", 3)}`);
    const afterRotation = await run(fx);
    expect(afterRotation.ids).toEqual(["n-000", "n-001", "n-002"]);
    // The new file grows past where the old one ended, and a line ends right there: the
    // reader's own check (a newline before its offset) would not notice a wrong offset.
    appendFileSync(fx.inbox("ai-pc"), lines("ai-pc", "m", 40));
    expect(readFileSync(fx.inbox("ai-pc"))[oldSize - 1]).toBe(0x0a);
    const third = await run(fx, { crash: true });
    expect(third.ids).toEqual(Array.from({ length: 40 }, (_, i) => `m-${String(i).padStart(3, "0")}`));
    expect(third.results.every((r) => r === "queued")).toBe(true);
  });

  it("rebuilds ids and ends from pending and done items, and from its own journal", async () => {
    const fx = sharedFixture();
    const dir = path.join(fx.stateDir, "outbox");
    const outbox = new Outbox<string>({ dir, target: "ai-pc", capacity: 10 });
    await outbox.load();
    const put = (id: string, end: number) =>
      outbox.put({ id, payload: id, source: { inbox: "to-ai-pc.jsonl", end }, enqueuedAt: 0, attempts: 0 });
    await put("x", 100);
    await put("y", 200);
    await outbox.done("x");
    const ledger = new OutboxTailLedger(fx.stateDir, () => [outbox as Outbox<unknown>]);
    await ledger.load();
    await ledger.recordDelivered("to-ai-pc.jsonl", [
      { id: "x", end: 100 },
      { id: "y", end: 200 },
      { id: "z", end: 260 },
    ]);
    await ledger.close();
    expect(readFileSync(ledger.file, "utf8")).toBe(
      `${HEADER}\n{"inbox":"to-ai-pc.jsonl","id":"z","end":260}\n`,
    );
    // A crash while writing the next entry leaves a torn line: ignored.
    appendFileSync(ledger.file, '{"inbox":"to-ai-pc.jsonl","id":"w","e');
    const memory = await new OutboxTailLedger(fx.stateDir, () => [outbox as Outbox<unknown>]).load();
    expect(memory.get("to-ai-pc.jsonl")).toEqual({
      checkpoint: undefined,
      deliveredIds: ["x", "y", "z"],
      deliveredEnd: 260,
    });
    expect(readFileSync(ledger.file, "utf8")).toBe(
      `${HEADER}\n{"inbox":"to-ai-pc.jsonl","id":"z","end":260}\n`,
    );
  });
});
