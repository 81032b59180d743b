import path from "node:path";
import {
  contentHash,
  Journal,
  JOURNAL_FORMATS,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from "../core/index.js";

/** An event written before it was acknowledged and not yet handled. */
export interface JournaledEvent {
  key: string;
  payload: Record<string, unknown>;
  /** ms since the epoch, when it arrived. */
  at: number;
}

type Record_ =
  { op: "in"; key: string; at: number; payload: Record<string, unknown> } | { op: "done"; key: string };

/**
 * `state.dir/feishu/intake.jsonl`: in webhook mode Feishu gets its 200 before the event is
 * handled, and never sends it again after that. So an event is written here before the 200
 * goes out, and forgotten once handled (the next rewrite drops it); after a crash the next
 * start hands over what the file holds, and the event dedup skips what was handled.
 */
export class IntakeJournal {
  readonly file: string;
  private readonly pending = new Map<string, JournaledEvent>();
  private readonly journal: Journal;
  private readonly clock: Clock;

  constructor(stateDir: string, options: { logger?: Logger; clock?: Clock } = {}) {
    this.file = path.join(stateDir, "feishu", "intake.jsonl");
    this.clock = options.clock ?? systemClock;
    this.journal = new Journal({
      file: this.file,
      kind: "feishu-intake",
      version: JOURNAL_FORMATS["feishu-intake"],
      logger: (options.logger ?? silentLogger()).child({ component: "feishu-intake-journal" }),
      // Webhook requests arrive one per callback: one write per turn of the loop, not per event.
      commitAt: "turn",
      snapshot: () => [...this.pending.values()].map((event) => JSON.stringify({ op: "in", ...event })),
      // Every handled event leaves a line a rewrite drops.
      shouldCompact: (stats) => stats.lines > this.pending.size + 1_000,
    });
  }

  /** Loads the journal: the events received but not handled before the last stop, oldest first. */
  async load(): Promise<JournaledEvent[]> {
    for (const line of (await this.journal.load()).lines) {
      const record = parse(line);
      if (record?.op === "in")
        this.pending.set(record.key, {
          key: record.key,
          at: record.at,
          payload: withoutToken(record.payload),
        });
      else if (record?.op === "done") this.pending.delete(record.key);
    }
    return [...this.pending.values()];
  }

  /** The event's key: Feishu's event id, or a hash of the payload for events without one. */
  static keyOf(payload: Record<string, unknown>, eventId?: string): string {
    return eventId ?? `h:${contentHash([JSON.stringify(payload)])}`;
  }

  /** Writes the event; resolves once it is durable (then the 200 may go out). Returns its key. */
  async received(payload: Record<string, unknown>, eventId?: string): Promise<string> {
    const key = IntakeJournal.keyOf(payload, eventId);
    if (this.pending.has(key)) return key; // Feishu sent it again before we answered: one is enough.
    const event: JournaledEvent = { key, at: this.clock.now(), payload: withoutToken(payload) };
    await this.journal.append({
      line: JSON.stringify({ op: "in", ...event }),
      apply: () => this.pending.set(key, event),
    });
    return key;
  }

  /**
   * The event was handled (or given up). Nothing is written: the event dedup recorded a
   * handled event already, so should the process die before the next rewrite drops it from
   * the file, the next start hands it over again and the dedup answers "duplicate". That
   * saves a write per event on the path every webhook takes; the file is rewritten without
   * what was handled every thousand events or so.
   */
  handled(key: string): void {
    this.pending.delete(key);
  }

  /** Events received and not handled yet. */
  get size(): number {
    return this.pending.size;
  }

  /** Rewrites the file with what is still pending (a clean stop leaves no handled event in it), then closes it. */
  async close(): Promise<void> {
    await this.journal.compact().catch(() => undefined);
    await this.journal.close();
  }
}

/**
 * The payload without its verification token (`header.token`; `token` in schema 1): a
 * secret, checked on arrival and not needed to handle the event later (the replay does not
 * verify again), so it is never written to the state folder. A file an earlier release wrote
 * loses it at the next rewrite.
 */
function withoutToken(payload: Record<string, unknown>): Record<string, unknown> {
  const { token: _token, ...rest } = payload;
  const header = rest.header;
  if (typeof header !== "object" || header === null || !("token" in header)) return rest;
  const { token: _headerToken, ...cleanHeader } = header as Record<string, unknown>;
  return { ...rest, header: cleanHeader };
}

function parse(line: string): Record_ | undefined {
  try {
    const value = JSON.parse(line) as Partial<Record_> & { payload?: unknown };
    if (value.op === "done" && typeof value.key === "string") return { op: "done", key: value.key };
    if (
      value.op === "in" &&
      typeof value.key === "string" &&
      typeof value.payload === "object" &&
      value.payload !== null
    ) {
      return {
        op: "in",
        key: value.key,
        at: Number(value.at ?? 0),
        payload: value.payload as Record<string, unknown>,
      };
    }
  } catch {
    // Not a record of ours.
  }
  return undefined;
}
