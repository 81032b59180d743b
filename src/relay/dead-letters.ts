import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import {
  contentHash,
  errnoCode,
  isClawbridgeError,
  Journal,
  JOURNAL_FORMATS,
  readJournalLines,
  silentLogger,
  stateIoError,
  systemClock,
  writeFileAtomic,
  type Clock,
  type JournalFactory,
  type JournalStore,
  type Logger,
} from "../core/index.js";
import type { OutboxItem } from "./outbox-types.js";

/** `state.dir/dead-letters.jsonl`: what could never be delivered. */
export const DEAD_LETTERS_FILE = "dead-letters.jsonl";
/** `state.dir/retry-requests/`: one file per `clawbridge state retry <id>` not yet carried out. */
export const RETRY_REQUESTS_DIR = "retry-requests";

/** Why a delivery was given up, in both languages (the CLI and the chat render it). */
export interface DeadLetterReason {
  code: string;
  origin: string;
  message: { en: string; "zh-CN": string };
}

/** One item that failed for good, with everything needed to put it back. */
export interface DeadLetter {
  /** The outbox item id: the envelope id for a delivery, the post's uuid for a chat post. */
  id: string;
  /** The outbox it came from: a node name, `_mailbox` or `_chat`. */
  target: string;
  item: OutboxItem<unknown>;
  /** The item's `seq` in its outbox when it died: tells a later requeue apart after a crash. */
  seq: number;
  failures: number;
  reason: DeadLetterReason;
  /** ms since the epoch. */
  at: number;
}

const reasonSchema = z.object({
  code: z.string(),
  origin: z.string(),
  message: z.object({ en: z.string(), "zh-CN": z.string() }),
});
const recordSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("dead"),
    id: z.string().min(1),
    target: z.string().min(1),
    item: z.looseObject({
      id: z.string(),
      payload: z.unknown(),
      enqueuedAt: z.number(),
      attempts: z.number(),
    }),
    seq: z.number().int().nonnegative(),
    failures: z.number().int().nonnegative(),
    reason: reasonSchema,
    at: z.number(),
  }),
  z.object({ op: z.literal("retried"), id: z.string().min(1), target: z.string().min(1), at: z.number() }),
]);
type DeadLetterRecord = z.infer<typeof recordSchema>;

export interface DeadLettersOptions {
  stateDir: string;
  /** Most dead letters kept; the oldest are forgotten beyond it (with a warning). Default 1,000. */
  capacity?: number;
  logger?: Logger;
  clock?: Clock;
  /** Where the records are kept; default the file `dead-letters.jsonl` (`Journal`). */
  journal?: JournalFactory;
}

/**
 * The dead-letter journal: a bounded list of deliveries that failed permanently, so that
 * one poisoned envelope never holds back its lane and nothing is dropped silently.
 * `clawbridge state dead-letters` lists it; `clawbridge state retry <id>` leaves a request
 * in `retry-requests/` that the bridge carries out (at once while it runs, else at start).
 */
export class DeadLetters {
  readonly file: string;
  private readonly letters = new Map<string, DeadLetter>();
  private readonly journal: JournalStore;
  private readonly capacity: number;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly options: DeadLettersOptions) {
    this.file = path.join(options.stateDir, DEAD_LETTERS_FILE);
    this.capacity = options.capacity ?? 1_000;
    this.log = (options.logger ?? silentLogger()).child({ component: "relay.dead-letters" });
    this.clock = options.clock ?? systemClock;
    const journal = options.journal ?? ((o) => new Journal(o));
    this.journal = journal({
      file: this.file,
      kind: "dead-letters",
      version: JOURNAL_FORMATS["dead-letters"],
      logger: this.log,
      snapshot: () => [...this.letters.values()].map((letter) => JSON.stringify({ op: "dead", ...letter })),
      // Every `retried` line and every forgotten letter is dropped by a rewrite.
      shouldCompact: (stats) => stats.lines > 2 * this.capacity + this.letters.size,
    });
  }

  async load(): Promise<void> {
    for (const line of (await this.journal.load()).lines) {
      const record = parseRecord(line);
      if (record) this.apply(record);
    }
  }

  list(): DeadLetter[] {
    return [...this.letters.values()];
  }

  get(target: string, id: string): DeadLetter | undefined {
    return this.letters.get(keyOf(target, id));
  }

  /** Records a dead letter; resolves once it is durable (then the outbox may drop the item). */
  async add(letter: Omit<DeadLetter, "at">): Promise<DeadLetter> {
    const full: DeadLetter = { ...letter, at: this.clock.now() };
    const record = { op: "dead", ...full } as DeadLetterRecord;
    await this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
    return full;
  }

  /** The letter went back into its outbox: no longer dead. */
  async retried(target: string, id: string): Promise<void> {
    if (!this.letters.has(keyOf(target, id))) return;
    const record: DeadLetterRecord = { op: "retried", id, target, at: this.clock.now() };
    await this.journal.append({ line: JSON.stringify(record), apply: () => this.apply(record) });
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  private apply(record: DeadLetterRecord): void {
    applyRecord(this.letters, record);
    if (this.letters.size > this.capacity) {
      const [oldestKey, oldest] = this.letters.entries().next().value!;
      this.letters.delete(oldestKey);
      this.log.warn(
        { id: oldest.id, target: oldest.target },
        "dead letters are full; the oldest was forgotten",
      );
    }
  }
}

/** What was given up, from an error: its code, where it came from, and its text in both languages. */
export function deadLetterReason(error: unknown): DeadLetterReason {
  if (isClawbridgeError(error)) {
    return {
      code: error.code,
      origin: error.origin,
      message: { en: error.describe("en"), "zh-CN": error.describe("zh-CN") },
    };
  }
  const text = error instanceof Error ? error.message : String(error);
  return { code: "CB_INTERNAL", origin: "internal", message: { en: text, "zh-CN": text } };
}

/** The dead letters as the file holds them now, for readers that are not the bridge (the CLI). */
export async function readDeadLetters(stateDir: string): Promise<DeadLetter[]> {
  return deadLettersOf(await readJournalLines(path.join(stateDir, DEAD_LETTERS_FILE)));
}

/** The dead letters a journal's record lines say (the Redis store keeps the same lines in a list). */
export function deadLettersOf(lines: readonly string[]): DeadLetter[] {
  const letters = new Map<string, DeadLetter>();
  for (const line of lines) {
    const record = parseRecord(line);
    if (record) applyRecord(letters, record);
  }
  return [...letters.values()];
}

/** A request to put a dead letter back, as `clawbridge state retry` leaves it. */
export interface RetryRequest {
  target: string;
  id: string;
  requestedAt: number;
}

/** Leaves a retry request for the bridge; returns its file (gone once carried out). */
export async function requestRetry(stateDir: string, request: RetryRequest): Promise<string> {
  const dir = path.join(stateDir, RETRY_REQUESTS_DIR);
  const file = path.join(dir, `${contentHash([request.target, request.id], 20)}.json`);
  try {
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(file, `${JSON.stringify(request)}\n`);
  } catch (error) {
    throw stateIoError(file, error);
  }
  return file;
}

/** The retry requests waiting, each with its file (removed by the caller once carried out). */
export async function pendingRetryRequests(
  stateDir: string,
): Promise<{ file: string; request: RetryRequest }[]> {
  const dir = path.join(stateDir, RETRY_REQUESTS_DIR);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw stateIoError(dir, error);
  }
  const found: { file: string; request: RetryRequest }[] = [];
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    const file = path.join(dir, name);
    try {
      const parsed = JSON.parse(await fs.readFile(file, "utf8")) as Partial<RetryRequest>;
      if (typeof parsed.target === "string" && typeof parsed.id === "string") {
        found.push({
          file,
          request: { target: parsed.target, id: parsed.id, requestedAt: Number(parsed.requestedAt ?? 0) },
        });
      } else {
        await fs.rm(file, { force: true });
      }
    } catch {
      // Half-written by a CLI that is still writing it, or gone: the next look sees.
    }
  }
  return found;
}

/** One journal record applied to the letters by key: later records win, newest last. */
function applyRecord(letters: Map<string, DeadLetter>, record: DeadLetterRecord): void {
  const key = keyOf(record.target, record.id);
  letters.delete(key);
  if (record.op === "dead") {
    const { op: _op, ...letter } = record;
    letters.set(key, letter as DeadLetter);
  }
}

function keyOf(target: string, id: string): string {
  return `${target}\u0000${id}`;
}

function parseRecord(line: string): DeadLetterRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
