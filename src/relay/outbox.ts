// Longer than our usual file: the outbox's in-memory state (pending items, done ids, writes in
// flight) must change together with each journal record, so it stays in one class; the
// lane index is lane-view.ts, shared with the Redis store.
import path from "node:path";
import { internalError, Journal, silentLogger, systemClock, type Clock, type Logger } from "../core/index.js";
import {
  OUTBOX_JOURNAL,
  outboxFileName,
  parseJournalRecord,
  type JournalRecord,
  type OutboxSource,
} from "./outbox-journal.js";
import { LaneView, type LaneEntry } from "./lane-view.js";
import type { OutboxStore } from "./outbox-store.js";
import type { OutboxItem, OutboxOptions, OutboxStats, PutResult, SourcedId } from "./outbox-types.js";

export type { OutboxSource } from "./outbox-journal.js";
export type { OutboxItem, OutboxOptions, OutboxStats, PutResult, SourcedId } from "./outbox-types.js";

interface DoneInfo {
  seq?: number;
  source?: OutboxSource;
}

/**
 * A durable, bounded, ordered queue of work for one target, in `state.dir/outbox/<target>.jsonl`:
 * a `Journal` of `put` and `done` records (see `outbox-journal.ts`), replayed by `load` and
 * rewritten atomically (pending items + remembered done ids) once the lines that rewrite
 * would drop exceed twice the capacity (about one per `done`), so the file stays bounded.
 *
 * Memory changes only after the record that says so is written: a `put` or `done` that
 * resolved survives a crash, one that did not may or may not, and nothing done comes
 * back. Records from calls made while a write is under way go out together in the next
 * one (the journal's group commit), so a burst costs a few appends, not one per item.
 */
export class Outbox<T> implements OutboxStore<T> {
  readonly target: string;
  readonly file: string;
  readonly capacity: number;
  private readonly rememberDone: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** The pending items, in seq order and by lane (`laneOf`). */
  private readonly view: LaneView<T>;
  /** Done ids, oldest first (a Map keeps insertion order), at most `rememberDone`. */
  private readonly doneIds = new Map<string, DoneInfo>();
  /** Ids whose `put` / `done` is being written, with the write that carries it. */
  private readonly putting = new Map<string, Promise<void>>();
  private readonly finishing = new Map<string, Promise<void>>();
  private readonly journal: Journal;
  private lastSeq = 0;
  private state: "new" | "open" | "closed" = "new";

  constructor(options: OutboxOptions<T>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError("outbox capacity must be a whole number ≥ 1");
    }
    this.target = options.target;
    this.capacity = options.capacity;
    this.rememberDone = options.rememberDone ?? options.capacity * 10;
    this.file = path.join(options.dir, outboxFileName(options.target));
    this.log = (options.logger ?? silentLogger()).child({ component: "relay.outbox", target: this.target });
    this.clock = options.clock ?? systemClock;
    this.view = new LaneView<T>(options.laneOf as ((payload: unknown) => string) | undefined);
    this.journal = new Journal({
      file: this.file,
      ...OUTBOX_JOURNAL,
      logger: this.log,
      snapshot: () => this.snapshot(),
      shouldCompact: () => this.overgrown(),
    });
  }

  /** Replays the journal: pending items in enqueue order; a torn last line is ignored (and cut off). */
  async load(): Promise<void> {
    if (this.state !== "new") throw internalError(`outbox ${this.target} is already loaded`);
    const { lines } = await this.journal.load();
    let bad = 0;
    for (const line of lines) {
      const record = parseJournalRecord(line);
      if (record) this.replay(record);
      else bad++;
    }
    this.state = "open";
    if (bad > 0)
      this.log.warn({ file: this.file, bad }, "outbox journal had unreadable lines; they were ignored");
    if (this.view.items.size > this.capacity) {
      // A lowered `outboxPerNode`: what was accepted stays; new puts overflow until it drains.
      this.log.warn(
        { pending: this.view.items.size, capacity: this.capacity },
        "outbox holds more than capacity",
      );
    }
    if (bad > 0 || this.overgrown()) await this.journal.compact();
  }

  /**
   * Queues items (in order) and resolves once they are written. Each gets a result:
   * `queued`; `duplicate` (the id is pending or was done recently); `overflow` (capacity
   * is reached: not queued). All queued items of one call go out in one write.
   */
  async put(input: OutboxItem<T>[] | OutboxItem<T>): Promise<PutResult[]> {
    return this.putItems(input, false);
  }

  /**
   * Puts an item back that was done (a dead letter being retried): like `put`, but an id
   * remembered as done is queued again instead of answered `duplicate`. The replay of the
   * journal already reads a put after a done as "queued again".
   */
  async requeue(item: OutboxItem<T>): Promise<PutResult> {
    const [result] = await this.putItems(item, true);
    return result!;
  }

  private async putItems(input: OutboxItem<T>[] | OutboxItem<T>, again: boolean): Promise<PutResult[]> {
    this.assertOpen();
    const list = Array.isArray(input) ? input : [input];
    // Serialised first, so a payload that is not JSON fails the call before anything is reserved.
    const jsons = list.map((item) => JSON.stringify(storedItem(item)));
    const results: PutResult[] = [];
    const waits: Promise<void>[] = [];
    let overflowed = 0;
    list.forEach((item, index) => {
      const id = item.id;
      const inFlight = this.putting.get(id);
      if (inFlight) waits.push(inFlight);
      if (inFlight || this.view.items.has(id) || (!again && this.doneIds.has(id)))
        return results.push("duplicate");
      if (this.view.items.size + this.putting.size >= this.capacity) {
        overflowed++;
        return results.push("overflow");
      }
      const seq = ++this.lastSeq;
      const json = jsons[index]!;
      const pending: LaneEntry<T> = { item: JSON.parse(json) as OutboxItem<T>, seq };
      const written = this.journal.append({
        line: `{"op":"put","seq":${seq},"item":${json}}`,
        apply: () => {
          this.putting.delete(id);
          this.doneIds.delete(id);
          this.view.add([pending]);
        },
        undo: () => this.putting.delete(id),
      });
      this.putting.set(id, written);
      waits.push(written);
      return results.push("queued");
    });
    if (overflowed > 0) {
      this.log.warn({ overflowed, capacity: this.capacity }, "outbox full: items not queued");
    }
    await Promise.all(waits);
    return results;
  }

  /** Items waiting, oldest first. */
  pending(): readonly OutboxItem<T>[] {
    return this.view.pending();
  }

  /**
   * The oldest waiting item of each lane (`laneOf`), oldest first: what may start next. Costs
   * the number of lanes, however long the backlog. Without `laneOf`, every waiting item. An
   * item being marked done is no longer waiting: its lane goes on while the mark is written.
   */
  laneHeads(): IterableIterator<OutboxItem<T>> {
    return this.view.heads();
  }

  /** The first `limit` waiting items of one lane, oldest first (a lane's backlog taken as one batch). */
  laneItems(lane: string, limit: number): OutboxItem<T>[] {
    return this.view.laneItems(lane, limit);
  }

  peek(): OutboxItem<T> | undefined {
    return this.view.first();
  }

  /** See `OutboxStore.done`. Unknown or already done ids are ignored. */
  async done(id: string, after?: Promise<unknown>): Promise<void> {
    this.assertOpen();
    const putting = this.putting.get(id);
    if (putting) return putting.then(() => this.done(id, after));
    // From here on synchronous up to the hide: the item leaves its lane (see `laneHeads`)
    // before the caller's next step, so a loop that goes on at once never starts it again.
    // The append follows at once, or once `after` is written.
    const finishing = this.finishing.get(id);
    if (finishing) return finishing;
    const entry = this.view.items.get(id);
    if (!entry) return;
    const info: DoneInfo = { seq: entry.seq, source: entry.item.source };
    this.view.hide(id);
    const append = () =>
      this.journal.append({
        line: JSON.stringify({ op: "done", id, ...info }),
        apply: () => {
          this.finishing.delete(id);
          this.view.remove(id);
          this.remember(id, info);
        },
        undo: () => {
          this.finishing.delete(id);
          this.view.show(id);
        },
      });
    const written = after
      ? after.then(append, (error: unknown) => {
          this.finishing.delete(id);
          this.view.show(id);
          throw error;
        })
      : append();
    this.finishing.set(id, written);
    return written;
  }

  /** Counts a delivery attempt (in memory), with why it failed if it did. */
  attempt(id: string, error?: unknown): void {
    const entry = this.view.items.get(id);
    if (!entry) return;
    entry.item.attempts++;
    entry.item.lastAttemptAt = this.clock.now();
    if (error !== undefined) entry.item.lastError = error instanceof Error ? error.message : String(error);
  }

  /** Pending (or being put), or done recently: what `put` would call a duplicate. */
  has(id: string): boolean {
    return this.view.items.has(id) || this.putting.has(id) || this.doneIds.has(id);
  }

  get size(): number {
    return this.view.items.size;
  }

  /** The `seq` of a pending item (its place in enqueue order, stable across restarts). */
  seqOf(id: string): number | undefined {
    return this.view.items.get(id)?.seq;
  }

  /** The last `seq` handed out: items put from now on are numbered above it. */
  get seq(): number {
    return this.lastSeq;
  }

  /** Where an item (pending or remembered as done) came from. */
  sourceOf(id: string): OutboxSource | undefined {
    return this.view.items.get(id)?.item.source ?? this.doneIds.get(id)?.source;
  }

  /** Every pending or remembered item that came from a mailbox line: what the tail ledger rebuilds from. */
  sourced(): SourcedId[] {
    const result: SourcedId[] = [];
    for (const [id, info] of this.doneIds) {
      if (info.source) result.push({ id, source: info.source, seq: info.seq ?? 0 });
    }
    for (const [id, entry] of this.view.items) {
      if (entry.item.source) result.push({ id, source: entry.item.source, seq: entry.seq });
    }
    return result;
  }

  /** Counters for status and tests. */
  stats(): OutboxStats {
    const { writes, lines, compactions } = this.journal.counters;
    return {
      target: this.target,
      pending: this.view.items.size,
      capacity: this.capacity,
      writes,
      compactions,
      lines,
    };
  }

  /** Waits for the writes under way; later calls to `put` and `done` fail. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await this.journal.close();
  }

  private assertOpen(): void {
    if (this.state === "open") return;
    throw internalError(`outbox ${this.target} ${this.state === "new" ? "is not loaded" : "is closed"}`);
  }

  /** Applies one journal record as it reads: later records win, as they did when written. */
  private replay(record: JournalRecord): void {
    switch (record.op) {
      case "put": {
        const item = record.item as OutboxItem<T>;
        this.lastSeq = Math.max(this.lastSeq, record.seq);
        if (this.view.items.has(item.id)) return;
        // A put after a done means the id had been forgotten and was queued again.
        this.doneIds.delete(item.id);
        this.view.add([{ item, seq: record.seq }]);
        return;
      }
      case "done": {
        const entry = this.view.items.get(record.id);
        this.view.remove(record.id);
        const seq = record.seq ?? entry?.seq;
        if (seq !== undefined) this.lastSeq = Math.max(this.lastSeq, seq);
        this.remember(record.id, { seq, source: record.source ?? entry?.item.source });
        return;
      }
      case "compacted":
        this.lastSeq = Math.max(this.lastSeq, record.seq);
        return;
    }
  }

  private remember(id: string, info: DoneInfo): void {
    this.doneIds.delete(id);
    this.doneIds.set(id, info);
    if (this.doneIds.size > this.rememberDone) this.doneIds.delete(this.doneIds.keys().next().value!);
  }

  /**
   * Lines a rewrite would drop (puts since done, done ids since forgotten) exceed twice the
   * capacity: about one per `done`, so the journal is rewritten every ~2×capacity deliveries
   * and never grows past its snapshot (≤ 1 + rememberDone + pending lines) plus that.
   */
  private overgrown(): boolean {
    return this.journal.counters.lines - (1 + this.doneIds.size + this.view.items.size) > 2 * this.capacity;
  }

  /**
   * What the journal means now, for a rewrite: a `compacted` mark with the last `seq`, the
   * remembered done ids (oldest first), then the pending items in order. The journal runs
   * it between writes, never during one, so nothing written is lost to the rewrite.
   */
  private snapshot(): string[] {
    const lines = [JSON.stringify({ op: "compacted", seq: this.lastSeq, at: this.clock.now() })];
    for (const [id, info] of this.doneIds) lines.push(JSON.stringify({ op: "done", id, ...info }));
    for (const { item, seq } of this.view.items.values()) {
      lines.push(JSON.stringify({ op: "put", seq, item: storedItem(item) }));
    }
    this.log.debug({ lines: lines.length, pending: this.view.items.size }, "outbox journal compacted");
    return lines;
  }
}

/** What the journal keeps of an item: the in-memory bookkeeping stays out. */
export function storedItem<T>(item: OutboxItem<T>): OutboxItem<T> {
  const { id, payload, source, enqueuedAt, attempts } = item;
  return source
    ? { id, payload, source: { inbox: source.inbox, end: source.end }, enqueuedAt, attempts }
    : { id, payload, enqueuedAt, attempts };
}
