import { parseStreamsReply, type RawEntry } from "../cluster/index.js";
import { journalRecordSchema } from "./outbox-journal.js";
import type { OutboxItem } from "./outbox-types.js";

// The replies of the commands and scripts a RedisOutbox sends, read into plain values.

/** One item this replica has claimed: `entryId` is its stream entry (what XACK names). */
export interface StreamEntry<T> {
  item: OutboxItem<T>;
  seq: number;
  entryId: string;
}

/** A stream entry's `seq` and `item` fields, read with the journal's own schema. */
export function parseEntry<T>(entryId: string, fields: string[]): StreamEntry<T> | undefined {
  let seq: string | undefined;
  let item: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "seq") seq = fields[i + 1];
    else if (fields[i] === "item") item = fields[i + 1];
  }
  try {
    const parsed = journalRecordSchema.safeParse({
      op: "put",
      seq: Number(seq),
      item: JSON.parse(item ?? "null"),
    });
    if (!parsed.success || parsed.data.op !== "put") return undefined;
    return { entryId, seq: parsed.data.seq, item: parsed.data.item as OutboxItem<T> };
  } catch {
    return undefined;
  }
}

/** XREADGROUP on one stream: its entries, or none when nothing came. */
export function parseReadReply(reply: unknown): RawEntry[] {
  return [...parseStreamsReply(reply).values()][0] ?? [];
}

export function parsePutReply(reply: unknown): [number, number, number, string] {
  const [size, seq, lines] = parseNumbers(reply, 3);
  const codes = Array.isArray(reply) ? String(reply[3] ?? "") : "";
  return [size!, seq!, lines!, codes];
}

export function parseNumbers(reply: unknown, count: number): number[] {
  if (!Array.isArray(reply) || reply.length < count)
    throw new Error("unexpected reply from an outbox script");
  return reply.slice(0, count).map(Number);
}
