import { appendFileSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readJournalLines } from "../../src/core/index.js";
import { QUARANTINE_FILE, type QuarantineRecord } from "../../src/mailbox/quarantine.js";
import type { RunInfo } from "../../src/sim/fake-types.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";
import {
  brokenContentLine,
  deeplyNestedLine,
  deliveredLine,
  ignoredLine,
  lineOfExactly,
  oversizeLine,
  plainDelivery,
  quarantinedLine,
} from "./generators/mailbox-lines.js";
import { GATEWAY_NODES, type LineDraft, type PlannedLine } from "./generators/mailbox-line.js";

// Small enough that over-long lines stay cheap, large enough for 10,000 levels of nesting.
const MAX_LINE_BYTES = 64 * 1024;
const BOM = Buffer.of(0xef, 0xbb, 0xbf);
const SEED = Number(process.env.CLAWBRIDGE_FC_SEED ?? Date.now() % 2 ** 31);

/** How many of each kind are drawn. The quarantined ones alone are over 10,000. */
const COUNTS = {
  quarantined: 10_000,
  deeplyNested: 24,
  oversize: 20,
  oversizeBeyondReadChunk: 2,
  delivered: 160,
  brokenContent: 120,
  ignored: 300,
  completedLater: 16,
};

/** Lines as written, each with where it starts. */
interface WrittenLine extends PlannedLine {
  offset: number;
}

// What escapes every handler: in the bridge process either would be a crash or a lost error.
const escaped: unknown[] = [];
const onEscape = (error: unknown) => void escaped.push(error);
beforeEach(() => {
  process.on("unhandledRejection", onEscape);
  process.on("uncaughtException", onEscape);
});
afterEach(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
});

/** Draws `n` drafts with the run's seed (each kind from its own stream of it). */
function draw(arb: fc.Arbitrary<LineDraft>, n: number, stream: number): LineDraft[] {
  return n === 0 ? [] : fc.sample(arb, { seed: SEED + stream, numRuns: n });
}

/** Appends lines to their inboxes (one write per inbox per batch) and notes each line's offset. */
class InboxWriter {
  readonly written: WrittenLine[] = [];
  private readonly sizes = new Map<string, number>();
  private next = 0;

  constructor(private readonly world: BridgeWorld) {}

  file(inbox: string): string {
    return path.join(this.world.root, "messages", `to-${inbox}.jsonl`);
  }

  marker(): string {
    return `m${String(this.next++).padStart(6, "0")}z`;
  }

  /** Writes `parts` (whole lines, or a last part without its newline) in one append per inbox. */
  write(lines: PlannedLine[], partial?: { line: PlannedLine; bytes: number }): void {
    const byInbox = new Map<string, Buffer[]>();
    const add = (line: PlannedLine, bytes: Buffer) => {
      const chunks = byInbox.get(line.inbox) ?? [];
      chunks.push(bytes);
      byInbox.set(line.inbox, chunks);
    };
    for (const line of lines) {
      this.note(line);
      add(line, Buffer.concat([line.bytes, Buffer.from("\n")]));
    }
    if (partial) {
      this.note(partial.line);
      add(partial.line, partial.line.bytes.subarray(0, partial.bytes));
    }
    for (const [inbox, chunks] of byInbox) appendFileSync(this.file(inbox), Buffer.concat(chunks));
  }

  /** The rest of a line begun by `write(…, partial)`, and its newline (its size was counted then). */
  complete(line: PlannedLine, from: number): void {
    appendFileSync(this.file(line.inbox), Buffer.concat([line.bytes.subarray(from), Buffer.from("\n")]));
  }

  private note(line: PlannedLine): void {
    const offset = this.sizes.get(line.inbox) ?? 0;
    this.written.push({ ...line, offset });
    this.sizes.set(line.inbox, offset + line.bytes.length + 1);
  }
}

function allRuns(world: BridgeWorld): (RunInfo & { node: string })[] {
  return GATEWAY_NODES.flatMap((node) => world.gateways[node].runs().map((run) => ({ ...run, node })));
}

function runsWith<R extends RunInfo>(runs: R[], marker: string): R[] {
  return runs.filter((run) => run.message.includes(marker));
}

function inboxLines(world: BridgeWorld, inbox: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path.join(world.root, "messages", `to-${inbox}.jsonl`), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every file and folder under `dir`, relative, with "/" after folders. */
function listTree(dir: string, prefix = ""): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${prefix}${entry.name}`;
    return entry.isDirectory() ? [`${relative}/`, ...listTree(dir, `${relative}/`)] : [relative];
  });
}

/** What the reason must say, by kind: enough for a person to find what to fix. */
function reasonFor(kind: string): RegExp {
  const field = /^wrong (\w+)$/.exec(kind)?.[1];
  if (field) return new RegExp(`^not an envelope: .*\\b${field}\\b`);
  const missing = /^missing (.+)$/.exec(kind)?.[1];
  if (missing)
    return new RegExp(
      `^not an envelope: ${missing
        .split("+")
        .map((f) => `(?=.*\\b${f}\\b)`)
        .join("")}`,
    );
  if (kind.startsWith("to: ")) return /^not an envelope: .*\bto\b/;
  if (kind.startsWith("oversize")) return /longer than maxLineBytes/;
  if (kind === "nested deep: extra field") return /meta: nested deeper than/;
  if (kind.startsWith("UTF-16LE")) return /UTF-16/;
  if (kind.endsWith("pretty-printed fragment")) return /pretty-printed/;
  return /\S/;
}

function tally(lines: PlannedLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const kind = line.kind.replace(/\s*[("].*$/, "").replace(/^(wrong|missing) .*/, "$1 <field>");
    const key = `${line.fate}: ${kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe("bad mailbox input against a running bridge (issue 14)", () => {
  it(
    "quarantines each bad line exactly once with a reason, delivers each valid line exactly once, and keeps serving",
    { timeout: 120_000 },
    async () => {
      const context = `fast-check seed ${SEED} (rerun with CLAWBRIDGE_FC_SEED=${SEED})`;
      const world = await bridgeWorld({
        relay: { mirrorToChat: false, budget: { perPairPerMinute: 1_000_000 } },
        configure: (config) => {
          config.mailbox = { ...(config.mailbox as object), maxLineBytes: MAX_LINE_BYTES };
        },
      });
      const { bridge, sink } = await startWorldBridge(world);
      const { metrics } = bridge;
      const quarantinedBefore = (await metrics.value("clawbridge_quarantined_lines_total")) ?? 0;
      const writer = new InboxWriter(world);

      // Each gateway inbox begins with a BOM, as Windows editors save a new file (one with CRLF).
      const first = GATEWAY_NODES.map((node, i) => {
        const line = plainDelivery(node, writer.marker());
        const ending = i === 0 ? "" : "\r";
        return {
          ...line,
          kind: "BOM at file start",
          bytes: Buffer.concat([BOM, line.bytes, Buffer.from(ending)]),
        };
      });
      writer.write(first);

      // The bulk: every kind drawn at random, shuffled together, valid lines among the bad ones.
      const drafts = [
        ...draw(quarantinedLine, COUNTS.quarantined, 1),
        ...draw(deeplyNestedLine(fc.constant(10_000)), COUNTS.deeplyNested, 2),
        ...draw(oversizeLine(MAX_LINE_BYTES, 400_000), COUNTS.oversize, 3),
        ...draw(oversizeLine(1_100_000, 2_600_000), COUNTS.oversizeBeyondReadChunk, 4),
        ...draw(deliveredLine, COUNTS.delivered, 5),
        ...draw(brokenContentLine, COUNTS.brokenContent, 6),
        ...draw(ignoredLine, COUNTS.ignored, 7),
      ];
      const order = fc.sample(fc.shuffledSubarray(drafts, { minLength: drafts.length }), {
        seed: SEED,
        numRuns: 1,
      })[0]!;
      const bulk = order.map((draft) => draft(writer.marker()));
      bulk.push(lineOfExactly(MAX_LINE_BYTES, "ai-pc", writer.marker()));
      for (let i = 0; i < bulk.length; i += 250) {
        writer.write(bulk.slice(i, i + 250));
        // Let the tailer in between writes: it reads while lines keep arriving.
        await new Promise((resolve) => setImmediate(resolve));
      }

      // Lines written in two goes: the first part (perhaps cut inside a character, or just
      // before its newline) sits unfinished at the end of the file while the tailer reads it.
      const halves = draw(
        fc.oneof(quarantinedLine, deliveredLine, brokenContentLine),
        COUNTS.completedLater,
        9,
      );
      const cuts = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), {
        seed: SEED + 10,
        numRuns: COUNTS.completedLater,
      });
      for (let i = 0; i < COUNTS.completedLater; i++) {
        const late = halves[i]!(writer.marker());
        // A bad line may go anywhere: here into an inbox whose carrier gets delivered.
        if (late.fate === "quarantine") late.inbox = GATEWAY_NODES[i % 2]!;
        const carrier = plainDelivery(late.inbox, writer.marker());
        const cut = Math.min(late.bytes.length, 1 + Math.floor(cuts[i]! * late.bytes.length));
        writer.write([carrier], { line: late, bytes: cut });
        await waitFor(() => runsWith(allRuns(world), carrier.marker).length > 0, {
          timeoutMs: 20_000,
          what: () =>
            `the line before an unfinished one (${context}) ` +
            sink
              .records()
              .filter((r) => (r.level as number) >= 50)
              .slice(0, 3)
              .map((r) => JSON.stringify(r).slice(0, 600))
              .join("\n"),
        });
        writer.complete(late, cut);
      }

      // A last valid line, then a fragment that is never finished: it must stay unread.
      const fragment = draw(deliveredLine, 1, 12)[0]!(writer.marker());
      const last = plainDelivery(fragment.inbox, writer.marker());
      writer.write([last], { line: fragment, bytes: fragment.bytes.length });

      const written = writer.written;
      const expectQuarantined = written.filter((line) => line.fate === "quarantine");
      const expectDelivered = written.filter((line) => line.fate === "deliver" && line !== written.at(-1));
      const expectIgnored = written.filter((line) => line.fate === "ignore");
      const quarantineFile = path.join(world.stateDir, QUARANTINE_FILE);
      const readQuarantine = async () =>
        (await readJournalLines(quarantineFile).catch(() => [])).map(
          (line) => JSON.parse(line) as QuarantineRecord,
        );

      await waitFor(
        async () => {
          const runs = allRuns(world);
          const delivered = expectDelivered.every((line) => runsWith(runs, line.marker!).length > 0);
          const settled = runs.every((run) => run.status !== "running");
          return delivered && settled && (await readQuarantine()).length >= expectQuarantined.length;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: () =>
            `every valid line delivered and every bad line quarantined (${context}); missing runs: ${expectDelivered
              .filter((line) => runsWith(allRuns(world), line.marker!).length === 0)
              .slice(0, 5)
              .map((line) => `${line.kind} @${line.inbox}:${line.offset}`)
              .join(", ")}`,
        },
      );

      // Each bad line accounted for exactly once, where it was written, with a reason.
      const records = await readQuarantine();
      const key = (file: string, offset: number) => `${file}@${offset}`;
      const expected = new Map(
        expectQuarantined.map((line) => [key(`to-${line.inbox}.jsonl`, line.offset), line]),
      );
      const seen = new Map<string, number>();
      for (const record of records)
        seen.set(key(record.file, record.offset), (seen.get(key(record.file, record.offset)) ?? 0) + 1);
      const unaccounted = expectQuarantined
        .filter((line) => seen.get(key(`to-${line.inbox}.jsonl`, line.offset)) !== 1)
        .map(
          (line) =>
            `${line.kind} @to-${line.inbox}.jsonl:${line.offset} seen ${seen.get(key(`to-${line.inbox}.jsonl`, line.offset)) ?? 0}×: ${JSON.stringify(line.bytes.subarray(0, 120).toString("latin1"))}`,
        );
      const unexpected = records
        .filter((record) => !expected.has(key(record.file, record.offset)))
        .map((record) => {
          const line = written.find(
            (w) => `to-${w.inbox}.jsonl` === record.file && w.offset === record.offset,
          );
          return `${record.file}:${record.offset} (${line?.kind ?? "no line starts here"}, expected ${line?.fate}): ${record.reason}`;
        });
      expect(
        { unaccounted: unaccounted.slice(0, 10), unexpected: unexpected.slice(0, 10) },
        `bad lines not quarantined exactly once, or good lines quarantined; ${context}`,
      ).toEqual({ unaccounted: [], unexpected: [] });
      expect(records).toHaveLength(expectQuarantined.length);
      for (const record of records) {
        const line = expected.get(key(record.file, record.offset))!;
        expect(record.length, `${line.kind}; ${context}`).toBe(line.bytes.length);
        expect(record.reason, `${line.kind}; ${context}`).toMatch(reasonFor(line.kind));
      }
      expect(expectQuarantined.length).toBeGreaterThanOrEqual(10_000);

      // Each valid line delivered exactly once, on its addressee, and answered exactly once.
      const runs = allRuns(world);
      const answers = new Map<string, Record<string, unknown>[]>();
      for (const inbox of ["nas-agent", "clawbridge"]) answers.set(inbox, inboxLines(world, inbox));
      for (const line of expectDelivered) {
        const matching = runsWith(runs, line.marker!);
        expect(
          matching.map((run) => `${run.node} ${run.status}`),
          `${line.kind} @to-${line.inbox}.jsonl:${line.offset}; ${context}`,
        ).toEqual([`${line.inbox} ok`]);
        const id = matching[0]!.idempotencyKey;
        await waitFor(
          () =>
            answers
              .set(line.answerInbox!, inboxLines(world, line.answerInbox!))
              .get(line.answerInbox!)!
              .some((a) => a.replyTo === id),
          {
            what: `the answer to ${line.kind} in to-${line.answerInbox}.jsonl (${context})`,
          },
        );
        expect(
          answers.get(line.answerInbox!)!.filter((a) => a.replyTo === id),
          context,
        ).toHaveLength(1);
      }
      for (const line of expectIgnored) {
        if (line.marker) expect(runsWith(runs, line.marker), `${line.kind}; ${context}`).toEqual([]);
      }
      // Nothing ran that was not written as a valid line (each run is one of ours, once).
      expect(runs).toHaveLength(expectDelivered.length);
      expect(runsWith(runs, fragment.marker!)).toEqual([]);

      // Still serving: the HTTP listener answers, no inbox is stuck retrying, no stray rejection.
      expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
      const stuck = sink.records().filter((r) => r.msg === "reading the inbox failed; retrying");
      expect(
        stuck.map((r) => JSON.stringify(r.err).slice(0, 200)),
        context,
      ).toEqual([]);
      expect(escaped.map(String), context).toEqual([]);
      const logged = sink.records().filter((r) => r.msg === "mailbox line quarantined");
      expect(logged).toHaveLength(expectQuarantined.length);
      expect((await metrics.value("clawbridge_quarantined_lines_total"))! - quarantinedBefore).toBe(
        expectQuarantined.length,
      );
      const scraped = await (await fetch(`${bridge.opsUrl}/metrics`)).text();
      expect(scraped).toContain(
        `clawbridge_quarantined_lines_total ${quarantinedBefore + expectQuarantined.length}\n`,
      );

      // No name made a file or folder anywhere but the inboxes written and the bridge's own:
      // no folder beyond the layout's three, no file outside them, no inbox not written to.
      const tree = listTree(path.dirname(world.root));
      const layout =
        /^(clawbridge\.json5|state\/.*|shared\/((messages|status|tasks)\/)?|shared\/messages\/to-[^/]+\.jsonl(\.lock)?|shared\/(status|tasks)\/[^/]+)$/;
      expect(
        tree.filter((entry) => !layout.test(entry)),
        context,
      ).toEqual([]);
      const inboxes = tree.flatMap((entry) => /^shared\/messages\/to-(.+)\.jsonl$/.exec(entry)?.[1] ?? []);
      const inboxesWritten = new Set(written.flatMap((line) => [line.inbox, line.answerInbox ?? line.inbox]));
      expect(inboxes.sort(), context).toEqual([...inboxesWritten].sort());
      expect(statSync(world.root).isDirectory()).toBe(true);

      console.info(
        `bad-input-mailbox: ${context}; ${expectQuarantined.length} quarantined (journal ${statSync(quarantineFile).size} bytes), ${expectDelivered.length} delivered, ${expectIgnored.length} ignored; by kind ${JSON.stringify(tally(written))}`,
      );
    },
  );
});
