import { promises as fs } from "node:fs";
import { z } from "zod";

/** The mailbox line an outbox item came from: lets the tail ledger rebuild its cursors from the outboxes. */
export interface OutboxSource {
  /** Inbox file name, e.g. `to-ai-pc.jsonl`. */
  inbox: string;
  /** Byte offset just after the line. */
  end: number;
}

const sourceSchema = z.object({ inbox: z.string().min(1), end: z.number().int().nonnegative() });
const seqSchema = z.number().int().nonnegative();

/**
 * One line of `state.dir/outbox/<target>.jsonl`. `seq` numbers puts in enqueue order
 * across restarts (the tail ledger uses it to tell puts before an inbox rotation from those
 * after); a `done` repeats the item's `seq` and `source` so it still says where the item
 * came from once compaction has dropped its `put`; `compacted` heads a rewritten file and
 * carries the last `seq`, so numbering never goes back.
 */
export const journalRecordSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("put"),
    seq: seqSchema,
    item: z.object({
      id: z.string().min(1),
      payload: z.unknown(),
      source: sourceSchema.optional(),
      enqueuedAt: z.number(),
      attempts: z.number().int().nonnegative(),
    }),
  }),
  z.object({
    op: z.literal("done"),
    id: z.string().min(1),
    seq: seqSchema.optional(),
    source: sourceSchema.optional(),
  }),
  z.object({ op: z.literal("compacted"), seq: seqSchema, at: z.number() }),
]);

export type JournalRecord = z.infer<typeof journalRecordSchema>;

export interface JournalContents {
  records: JournalRecord[];
  /** Bytes up to and including the last newline: what a repair truncates to. */
  completeBytes: number;
  /** The file ended in a line without its newline (a write cut short by a crash). */
  torn: boolean;
  /** Complete lines that were not a record (never written by us; skipped). */
  bad: number;
}

const NEWLINE = 0x0a;

/** Reads a journal; a missing file is an empty one, and a last line without its newline does not count. */
export async function readJournal(file: string): Promise<JournalContents> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    return { records: [], completeBytes: 0, torn: false, bad: 0 };
  }
  const completeBytes = data.lastIndexOf(NEWLINE) + 1;
  const records: JournalRecord[] = [];
  let bad = 0;
  for (const line of data.subarray(0, completeBytes).toString("utf8").split("\n")) {
    if (line === "") continue;
    let parsed: ReturnType<typeof journalRecordSchema.safeParse>;
    try {
      parsed = journalRecordSchema.safeParse(JSON.parse(line));
    } catch {
      bad++;
      continue;
    }
    if (parsed.success) records.push(parsed.data);
    else bad++;
  }
  return { records, completeBytes, torn: completeBytes < data.length, bad };
}

/**
 * The journal's file name for a target. Targets such as `feishu:oc_…` hold characters
 * that are not portable in file names (`:` on macOS and SMB shares), so everything but
 * letters, digits, `-` and `_` is percent-encoded; node names stay as they are.
 */
export function outboxFileName(target: string): string {
  if (target === "") throw new RangeError("an outbox target must not be empty");
  let name = "";
  for (const char of target) {
    if (/[A-Za-z0-9_-]/.test(char)) name += char;
    else
      for (const byte of Buffer.from(char, "utf8"))
        name += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `${name}.jsonl`;
}
