import path from "node:path";
import { z } from "zod";
import { Journal, JOURNAL_FORMATS, silentLogger, type Logger } from "../core/index.js";
import {
  FileTailLedger,
  type DeliveredEntry,
  type InboxCheckpoint,
  type InboxMemory,
  type TailLedger,
} from "../mailbox/index.js";
import type { OutboxStore } from "./outbox-store.js";

const recordSchema = z.union([
  z.object({ inbox: z.string().min(1), id: z.string().min(1), end: z.number().int().nonnegative() }),
  z.object({ inbox: z.string().min(1), rotated: z.record(z.string(), z.number().int().nonnegative()) }),
]);

/** A line handed over without a put (`id`, `end`), or a rotation mark: each outbox's `seq` at that moment. */
type LedgerRecord = z.infer<typeof recordSchema>;

export interface OutboxTailLedgerOptions {
  /** Recent entries kept per inbox in the ledger's own journal. */
  keepIds?: number;
  logger?: Logger;
}

/**
 * The relay's tail ledger: exactly once from a mailbox inbox into the outboxes, because
 * where the tailer stands is recorded in the same write as what it did.
 *
 * The relay's handler `put`s each envelope with `source: {inbox, end}` and resolves only
 * once that put is written; the tailer hands one inbox's envelopes over one at a time, in
 * file order. So a written put of line L proves every line before L was handled too. On
 * `load`, each inbox's `deliveredEnd` is the furthest `end` among the outboxes' sourced
 * items (pending, or done and still remembered) and this ledger's own journal, and the
 * reader resumes at `max(checkpoint, deliveredEnd)`:
 * - a line at or before that point is not handed over again — it was put (its effect is in
 *   an outbox) or it had no outbox effect to repeat;
 * - a line after it was not put before the crash (else `deliveredEnd` would be further), so
 *   handing it over again is its first put. Crash windows in between (put written but the
 *   tailer's `recordDelivered` or checkpoint not) are covered, as the put carries the end.
 *
 * `recordDelivered` therefore only writes the lines that went into no outbox (mailbox-only
 * nodes, filtered envelopes) to `state.dir/mailbox/outbox-ledger.jsonl`; checkpoints go to
 * a `FileTailLedger` in the same state dir (`cursors.json`). `deliveredIds` are rebuilt from
 * the same sources: they matter when an inbox is rotated (shrank or was replaced) and read
 * again from 0, where ids already delivered are skipped. Ends recorded before a rotation
 * belong to the old file, so a rotation mark stores every outbox's `seq`: sourced items at
 * or below it give ids but no end.
 *
 * Rules for the handler: resolve only after the put; when one envelope goes into several
 * outboxes, set `source` on the last put only (the earlier ones, repeated after a crash,
 * come back as `duplicate`); and `outboxes()` must return every outbox that may hold items
 * from an inbox, loaded before `load` is called.
 */
export class OutboxTailLedger implements TailLedger {
  readonly file: string;
  private readonly checkpoints: FileTailLedger;
  private readonly keepIds: number;
  private readonly log: Logger;
  private readonly inboxes = new Map<string, LedgerRecord[]>();
  private readonly journal: Journal;

  constructor(
    stateDir: string,
    private readonly outboxes: () => Iterable<OutboxStore<unknown>>,
    options: OutboxTailLedgerOptions = {},
  ) {
    this.file = path.join(stateDir, "mailbox", "outbox-ledger.jsonl");
    this.checkpoints = new FileTailLedger(stateDir, { logger: options.logger });
    this.keepIds = options.keepIds ?? 10_000;
    this.log = (options.logger ?? silentLogger()).child({ component: "relay.outbox-ledger" });
    this.journal = new Journal({
      file: this.file,
      kind: "outbox-ledger",
      version: JOURNAL_FORMATS["outbox-ledger"],
      logger: this.log,
      snapshot: () => this.snapshot(),
      // Rewritten once the lines a rewrite would drop outnumber what one inbox keeps.
      shouldCompact: (stats) => stats.lines - this.kept() > this.keepIds,
    });
  }

  async load(): Promise<Map<string, InboxMemory>> {
    // Only the checkpoints: delivered logs a `FileTailLedger` once kept are not ours to trust.
    const saved = await this.checkpoints.load();
    for (const line of (await this.journal.load()).lines) {
      const record = parseRecord(line);
      if (record) this.remember(record);
    }
    // Sourced items by inbox: `seq` tells those put before the inbox's last rotation.
    const sourced = new Map<string, { target: string; id: string; end: number; seq: number }[]>();
    for (const outbox of this.outboxes()) {
      for (const { id, source, seq } of outbox.sourced()) {
        const list = sourced.get(source.inbox) ?? [];
        list.push({ target: outbox.target, id, end: source.end, seq });
        sourced.set(source.inbox, list);
      }
    }
    const names = new Set([...saved.keys(), ...this.inboxes.keys(), ...sourced.keys()]);
    const result = new Map<string, InboxMemory>();
    for (const inbox of names) {
      const before: DeliveredEntry[] = [];
      const after: DeliveredEntry[] = [];
      let marks: Record<string, number> | undefined;
      for (const record of this.inboxes.get(inbox) ?? []) {
        if ("rotated" in record) {
          before.push(...after.splice(0));
          marks = record.rotated;
        } else after.push({ id: record.id, end: record.end });
      }
      for (const { target, id, end, seq } of sourced.get(inbox) ?? []) {
        const old = marks !== undefined && seq <= (marks[target] ?? 0);
        (old ? before : after).push({ id, end });
      }
      const byEnd = (a: DeliveredEntry, b: DeliveredEntry) => a.end - b.end;
      const ids = [...before.sort(byEnd), ...after.sort(byEnd)].map((entry) => entry.id);
      result.set(inbox, {
        checkpoint: saved.get(inbox)?.checkpoint,
        deliveredIds: ids.slice(-this.keepIds),
        deliveredEnd: after.reduce((furthest, entry) => Math.max(furthest, entry.end), 0),
      });
    }
    return result;
  }

  /**
   * Writes the entries no outbox holds with this source; the others are recorded already, by
   * their put. Matched by id: a line whose put used another item id is written here too —
   * one line more, and its envelope id is then known for a re-read after a rotation.
   */
  async recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void> {
    const outboxes = [...this.outboxes()];
    const unrecorded = entries.filter(
      (entry) =>
        !outboxes.some((outbox) => {
          const source = outbox.sourceOf(entry.id);
          return source?.inbox === inbox && source.end === entry.end;
        }),
    );
    await this.append(unrecorded.map(({ id, end }) => ({ inbox, id, end })));
  }

  async recordRotation(inbox: string): Promise<void> {
    const marks: Record<string, number> = {};
    for (const outbox of this.outboxes()) marks[outbox.target] = outbox.seq;
    await this.append([{ inbox, rotated: marks }]);
  }

  saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void> {
    return this.checkpoints.saveCheckpoint(inbox, checkpoint);
  }

  async close(): Promise<void> {
    await this.journal.close();
    await this.checkpoints.close();
  }

  /** Keeps a record in memory: per inbox the newest `keepIds` entries and the last rotation mark, in order. */
  private remember(record: LedgerRecord): void {
    let records = this.inboxes.get(record.inbox);
    if (!records) this.inboxes.set(record.inbox, (records = []));
    records.push(record);
    // Trimmed in steps, not per record: slicing ten thousand entries per chunk would add up.
    if (records.length > 2 * this.keepIds) this.inboxes.set(record.inbox, this.trim(records));
  }

  private trim(records: LedgerRecord[]): LedgerRecord[] {
    const lastMark = records.findLastIndex((record) => "rotated" in record);
    let entries = 0;
    const kept: LedgerRecord[] = [];
    for (let index = records.length - 1; index >= 0; index--) {
      const record = records[index]!;
      if ("rotated" in record ? index === lastMark : ++entries <= this.keepIds) kept.push(record);
    }
    return kept.reverse();
  }

  private append(records: LedgerRecord[]): Promise<void> {
    if (records.length === 0) return this.journal.idle();
    return this.journal.append(
      records.map((record) => ({ line: JSON.stringify(record), apply: () => this.remember(record) })),
    );
  }

  private kept(): number {
    let kept = 0;
    for (const inboxRecords of this.inboxes.values()) kept += inboxRecords.length;
    return kept;
  }

  private snapshot(): string[] {
    const lines: string[] = [];
    for (const [inbox, records] of this.inboxes) {
      const kept = this.trim(records);
      this.inboxes.set(inbox, kept);
      for (const record of kept) lines.push(JSON.stringify(record));
    }
    return lines;
  }
}

function parseRecord(line: string): LedgerRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
