import path from "node:path";
import { z } from "zod";
import {
  Journal,
  JOURNAL_FORMATS,
  LOCALES,
  readJournalLines,
  silentLogger,
  type JournalFactory,
  type JournalStore,
  type Logger,
} from "../core/index.js";
import { isFinalState, type Task } from "./types.js";

/** `state.dir/tasks.jsonl`: every task's latest copy, the id counter, pairing cards, threads, watches. */
export const TASKS_FILE = "tasks.jsonl";

/** Finished tasks kept (for `/tasks`, `/task`, Retry); open ones are always kept. */
const DEFAULT_KEEP_FINISHED = 1_000;
/** Output journaled per task: the full text goes to the inbox files, the card shows the tail. */
export const MAX_JOURNALED_OUTPUT = 16 * 1024;

const requesterSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("user"), openId: z.string(), name: z.string().optional() }),
  z.object({ kind: z.literal("agent"), node: z.string() }),
]);
const taskSchema = z.looseObject({
  id: z.string().regex(/^T\d+$/),
  seq: z.number().int().positive(),
  target: z.string().optional(),
  node: z.string().optional(),
  via: z.enum(["gateway", "mailbox"]).optional(),
  prompt: z.string(),
  state: z.enum(["queued", "running", "done", "failed", "cancelled", "timeout"]),
  requestedBy: requesterSchema,
  place: z
    .object({ chatId: z.string(), replyTo: z.string().optional(), cardMessageId: z.string().optional() })
    .optional(),
  locale: z.enum(LOCALES),
  envelopeId: z.string(),
  sourceEnvelopeId: z.string().optional(),
  sourceMessageId: z.string().optional(),
  retryOf: z.string().optional(),
  createdAt: z.number(),
  startedAt: z.number().optional(),
  runAccepted: z.boolean().optional(),
  endedAt: z.number().optional(),
  output: z.string(),
  reason: z.string().optional(),
  cancelledBy: z.string().optional(),
});
/** A card posted once per node that needs pairing, patched later (never posted twice). */
const pairingSchema = z.object({
  node: z.string(),
  requestId: z.string().optional(),
  messages: z.array(z.object({ chatId: z.string(), messageId: z.string() })),
  connected: z.boolean(),
});
export type PairingCardRecord = z.infer<typeof pairingSchema>;

/** A person's `/tell` to a mailbox-only node: its answer line is posted in the thread it came from. */
const threadSchema = z.object({
  envelopeId: z.string(),
  node: z.string(),
  chatId: z.string(),
  replyTo: z.string(),
  at: z.number(),
});
export type MailboxThread = z.infer<typeof threadSchema>;

/** A chat's `/watch` card, followed again after a restart until `/unwatch`. */
const watchSchema = z.object({
  chatId: z.string(),
  node: z.string(),
  locale: z.enum(LOCALES),
  messageId: z.string(),
});
export type WatchRecord = z.infer<typeof watchSchema>;

const recordSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("task"), task: taskSchema }),
  z.object({ op: z.literal("seq"), next: z.number().int().positive() }),
  z.object({ op: z.literal("pairing"), card: pairingSchema }),
  z.object({ op: z.literal("pairing-gone"), node: z.string() }),
  z.object({ op: z.literal("thread"), thread: threadSchema }),
  z.object({ op: z.literal("thread-done"), envelopeId: z.string() }),
  z.object({ op: z.literal("watch"), watch: watchSchema }),
  z.object({ op: z.literal("watch-gone"), chatId: z.string() }),
]);
type TaskRecord = z.infer<typeof recordSchema>;

const MAX_THREADS = 2_000;
/** One watch per chat; more chats than this is not a group bot's life. */
const MAX_WATCHES = 1_000;

/**
 * The task journal: each change of a task is its whole new copy, so recovery is "the last
 * copy of each id wins". Bounded: a rewrite keeps the open tasks, the newest finished ones,
 * the id counter (ids never repeat), the pairing cards and the open mailbox threads.
 */
export class TaskJournal {
  readonly file: string;
  private readonly tasks = new Map<string, Task>();
  private readonly pairing = new Map<string, PairingCardRecord>();
  private readonly watchCards = new Map<string, WatchRecord>();
  private readonly threads = new Map<string, MailboxThread>();
  private readonly journal: JournalStore;
  private readonly keepFinished: number;
  private nextSeq = 1;
  private finished = 0;
  private readonly log: Logger;

  constructor(options: {
    stateDir: string;
    logger?: Logger;
    keepFinished?: number;
    /** Where the records are kept; default the file `tasks.jsonl` (`Journal`). */
    journal?: JournalFactory;
  }) {
    this.file = path.join(options.stateDir, TASKS_FILE);
    this.keepFinished = options.keepFinished ?? DEFAULT_KEEP_FINISHED;
    this.log = (options.logger ?? silentLogger()).child({ component: "tasks.journal" });
    const journal = options.journal ?? ((o) => new Journal(o));
    this.journal = journal({
      file: this.file,
      kind: "tasks",
      version: JOURNAL_FORMATS["tasks"],
      logger: this.log,
      snapshot: () => this.snapshot(),
      shouldCompact: (stats) => stats.lines > 4 * (this.tasks.size + this.keepFinished) + 1_000,
    });
  }

  async load(): Promise<void> {
    let skipped = 0;
    for (const line of (await this.journal.load()).lines) {
      const record = parseRecord(line);
      if (record) this.apply(record);
      else skipped++;
    }
    if (skipped > 0) this.log.warn({ skipped, file: this.file }, "unreadable task journal lines skipped");
  }

  /** Every task kept, oldest first. */
  all(): Task[] {
    return [...this.tasks.values()];
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id.toUpperCase());
  }

  /** The id the next task gets (not yet durable: `put` of that task makes it so). */
  takeSeq(): number {
    return this.nextSeq++;
  }

  /** Writes the task's new copy; resolves once it is durable. */
  put(task: Task): Promise<void> {
    const stored = { ...task, output: tail(task.output, MAX_JOURNALED_OUTPUT) };
    const record: TaskRecord = { op: "task", task: stored };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  pairingCards(): PairingCardRecord[] {
    return [...this.pairing.values()];
  }

  putPairing(card: PairingCardRecord): Promise<void> {
    const record: TaskRecord = { op: "pairing", card };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  dropPairing(node: string): Promise<void> {
    const record: TaskRecord = { op: "pairing-gone", node };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  thread(envelopeId: string): MailboxThread | undefined {
    return this.threads.get(envelopeId);
  }

  putThread(thread: MailboxThread): Promise<void> {
    const record: TaskRecord = { op: "thread", thread };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  closeThread(envelopeId: string): Promise<void> {
    if (!this.threads.has(envelopeId)) return Promise.resolve();
    const record: TaskRecord = { op: "thread-done", envelopeId };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  watches(): WatchRecord[] {
    return [...this.watchCards.values()];
  }

  putWatch(watch: WatchRecord): Promise<void> {
    const record: TaskRecord = { op: "watch", watch };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  dropWatch(chatId: string): Promise<void> {
    if (!this.watchCards.has(chatId)) return Promise.resolve();
    const record: TaskRecord = { op: "watch-gone", chatId };
    return this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  /** Rewrites the file to what it means now (the owner's bound does this by itself as it grows). */
  compact(): Promise<void> {
    return this.journal.compact();
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  private apply(record: TaskRecord): void {
    switch (record.op) {
      case "task": {
        const task = record.task as Task;
        const before = this.tasks.get(task.id);
        if (before && isFinalState(before.state)) this.finished--;
        // Re-inserted so the map's order is "last changed last": the oldest finished go first.
        this.tasks.delete(task.id);
        this.tasks.set(task.id, task);
        if (isFinalState(task.state)) this.finished++;
        this.nextSeq = Math.max(this.nextSeq, task.seq + 1);
        this.forgetOldFinished();
        break;
      }
      case "seq":
        this.nextSeq = Math.max(this.nextSeq, record.next);
        break;
      case "pairing":
        this.pairing.set(record.card.node, record.card);
        break;
      case "pairing-gone":
        this.pairing.delete(record.node);
        break;
      case "thread":
        this.threads.set(record.thread.envelopeId, record.thread);
        if (this.threads.size > MAX_THREADS) this.threads.delete(this.threads.keys().next().value!);
        break;
      case "thread-done":
        this.threads.delete(record.envelopeId);
        break;
      case "watch":
        this.watchCards.delete(record.watch.chatId);
        this.watchCards.set(record.watch.chatId, record.watch);
        if (this.watchCards.size > MAX_WATCHES) this.watchCards.delete(this.watchCards.keys().next().value!);
        break;
      case "watch-gone":
        this.watchCards.delete(record.chatId);
        break;
    }
  }

  private forgetOldFinished(): void {
    if (this.finished <= this.keepFinished) return;
    for (const [id, task] of this.tasks) {
      if (this.finished <= this.keepFinished) break;
      if (!isFinalState(task.state)) continue;
      this.tasks.delete(id);
      this.finished--;
    }
  }

  private snapshot(): string[] {
    const lines = [JSON.stringify({ op: "seq", next: this.nextSeq } satisfies TaskRecord)];
    for (const card of this.pairing.values()) lines.push(JSON.stringify({ op: "pairing", card }));
    for (const thread of this.threads.values()) lines.push(JSON.stringify({ op: "thread", thread }));
    for (const watch of this.watchCards.values()) lines.push(JSON.stringify({ op: "watch", watch }));
    for (const task of this.tasks.values()) lines.push(JSON.stringify({ op: "task", task }));
    return lines;
  }
}

/** The tasks as the file holds them now, for readers that are not the bridge (the CLI, tests). */
export async function readTasks(stateDir: string): Promise<Task[]> {
  const tasks = new Map<string, Task>();
  for (const line of await readJournalLines(path.join(stateDir, TASKS_FILE))) {
    const record = parseRecord(line);
    if (record?.op === "task") tasks.set(record.task.id, record.task as Task);
  }
  return [...tasks.values()];
}

function parseRecord(line: string): TaskRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}
