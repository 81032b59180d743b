import { JOURNAL_FORMATS, readJournalFile } from "../core/index.js";
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

/** The journal kind and format version of an outbox file (its header line). */
export const OUTBOX_JOURNAL = { kind: "outbox", version: JOURNAL_FORMATS.outbox } as const;

/** One line as a record; undefined for a line that is not one (never written by us). */
export function parseJournalRecord(line: string): JournalRecord | undefined {
  try {
    const parsed = journalRecordSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface JournalContents {
  records: JournalRecord[];
  /** The file ended in a line without its newline (a write cut short by a crash). */
  torn: boolean;
  /** Complete lines that were not a record (never written by us; skipped). */
  bad: number;
}

/**
 * Reads an outbox file as it is on disk, without changing it (tests and tools; the outbox
 * itself reads through its `Journal`). A missing file is an empty one; the header line and
 * a last line without its newline do not count.
 */
export async function readJournal(file: string): Promise<JournalContents> {
  const { lines, torn } = await readJournalFile(file);
  const records: JournalRecord[] = [];
  let bad = 0;
  for (const line of lines) {
    const record = parseJournalRecord(line);
    if (record) records.push(record);
    else bad++;
  }
  return { records, torn, bad };
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
