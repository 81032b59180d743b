// Longer than our usual file: group commit, torn-line repair, migration and the check that
// the open file is still the one at the path are one write path and share its state.
import fsSync, { promises as fs } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import { errnoCode, internalError, isClawbridgeError } from "./errors.js";
import { silentLogger, type Logger } from "./logger.js";
import { stateNewerError } from "./state-formats.js";
import { stateIoError } from "./state-lock.js";

/** A line waiting for the next write, with what it changes in memory once written (or not). */
export interface JournalEntry {
  /** One record without its newline — or several, joined by newlines, with `records` saying how many. */
  line: string;
  /** Records in `line` (default 1): a caller with many lines at once passes them as one entry. */
  records?: number;
  /** Runs once the line is written, before anything else is (compaction included). */
  apply?(): void;
  /** Runs when the write carrying the line failed. */
  undo?(): void;
}

export interface JournalOptions {
  file: string;
  /** What the file holds, named in its header line: `{"journal":"<kind>","version":<n>}`. */
  kind: string;
  /**
   * The record format's version (see `JOURNAL_FORMATS`); a file with an older one goes
   * through `migrate`, a file with a newer one is refused (`CB_STATE_NEWER`).
   */
  version: number;
  /**
   * The lines that say what the journal means now, without the ones a rewrite may drop. A
   * compaction writes them; so does an append that finds its file deleted or replaced
   * underneath, so memory and disk agree again and nothing pending is lost.
   */
  snapshot: () => readonly string[] | Promise<readonly string[]>;
  /** Asked between writes: rewrite now? Defaults to never (the owner calls `compact`). */
  shouldCompact?: (stats: JournalStats) => boolean;
  /**
   * Turns the records of an older format into this version's, once, at load. Version 0 is a
   * file written before journals had a header. Defaults to keeping the lines as they are.
   */
  migrate?: (lines: string[], fromVersion: number) => string[];
  logger?: Logger;
  /**
   * When a commit goes out: `"microtask"` (default) right after the code that added to it,
   * which keeps a chain of dependent writes (put, deliver, done) quick; `"turn"` at the end
   * of this turn of the event loop, which gathers what many independent callbacks add — a
   * burst of webhook requests — into one write instead of one each.
   */
  commitAt?: "microtask" | "turn";
}

export interface JournalStats {
  /** Records in the file (the header not counted). */
  lines: number;
  bytes: number;
  /** Appends and rewrites so far. */
  writes: number;
  compactions: number;
}

export interface JournalContents {
  /** Every complete record line, in order (migrated when the file had an older format). */
  lines: string[];
  /** The file ended in a line without its newline (a write cut short by a crash); it was dropped. */
  torn: boolean;
  /** The format version found: 0 without a header, `version` when current. */
  foundVersion: number;
}

/**
 * What a journal's owner uses of it, whichever store keeps the records: the file `Journal`
 * in `state.dir`, or a shared store (Redis) that replicas hand over to each other.
 */
export interface JournalStore {
  /** The records as stored (migrated when older); done once, later calls get the same result. */
  load(): Promise<JournalContents>;
  /** Adds to the next write; each entry's `apply` runs once it is stored, `undo` when that failed. */
  append(entry: JournalEntry | readonly JournalEntry[]): Promise<void>;
  /** Rewrites the records as the owner's snapshot, after the writes under way. */
  compact(): Promise<void>;
  readonly counters: Readonly<JournalStats>;
  /** Resolves once every write started so far has settled. */
  idle(): Promise<void>;
  /** Waits for the writes under way; later appends fail. */
  close(): Promise<void>;
}

/** Builds an owner's journal from its options; the default is the file `Journal`. */
export type JournalFactory = (options: JournalOptions) => JournalStore;

const NEWLINE = 0x0a;
/** A header line is short; this much of a file's start always holds it. */
const HEADER_READ_BYTES = 256;

/**
 * The one append-only journal behind every log the bridge keeps in `state.dir`: outboxes,
 * their tail ledger, the mailbox tail ledger, the Feishu dedup log, the quarantine, dead
 * letters, the webhook intake.
 *
 * - **Group commit**: entries added while a write is under way go out together in the next
 *   one, so a burst costs a few appends, not one per entry. Writes never overlap.
 * - **Torn-line safe**: only newline-terminated lines count; a failed append is cut back, so
 *   no half line is ever glued to the next one.
 * - **Bounded**: between writes the owner's `shouldCompact` may ask for a rewrite of its
 *   `snapshot`, done as write-temp + rename, never half visible.
 * - **Versioned**: the first line is a header with the format's kind and version; a file
 *   written before headers existed (version 0) or by an older format is migrated once, with
 *   a log line; one written by a newer release is refused before anything is read or written
 *   (its records may mean something this release cannot know).
 * - **Fast and safe handle**: the file stays open between commits. Before each commit the
 *   path's inode is compared with the open handle's: a file deleted or replaced underneath
 *   is noticed, the handle reopened and the snapshot written again — never a silent write
 *   into an unlinked file.
 */
export class Journal implements JournalStore {
  readonly file: string;
  private readonly log: Logger;
  private readonly header: string;
  /** The open file (a plain descriptor: appends are synchronous, see `commit`). */
  private fd: number | undefined;
  private inode: number | undefined;
  private queue: JournalEntry[] = [];
  private scheduled: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stats: JournalStats = { lines: 0, bytes: 0, writes: 0, compactions: 0 };
  /** A failed append could not be cut back: start the next one on a fresh line. */
  private newlineFirst = false;
  private closed = false;
  private loading: Promise<JournalContents> | undefined;

  constructor(private readonly options: JournalOptions) {
    this.file = options.file;
    this.header = JSON.stringify({ journal: options.kind, version: options.version });
    this.log = (options.logger ?? silentLogger()).child({ component: "journal", kind: options.kind });
  }

  /**
   * Reads the file (a missing one is empty). A torn last line is dropped and an older format
   * migrated; either rewrites the file at once, so appends always start on a line of their own.
   * Done once: owners that write before they ever read (a new inbox's log, the quarantine)
   * simply call it before each write.
   */
  load(): Promise<JournalContents> {
    return (this.loading ??= this.read());
  }

  private async read(): Promise<JournalContents> {
    await fs.mkdir(path.dirname(this.file), { recursive: true }).catch((error: unknown) => {
      throw stateIoError(path.dirname(this.file), error);
    });
    let data: Buffer;
    try {
      data = await fs.readFile(this.file);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw stateIoError(this.file, error);
      data = Buffer.alloc(0);
    }
    const split = splitJournal(data);
    const { torn, header } = split;
    let { lines } = split;
    if (header && header.kind !== this.options.kind) {
      this.log.warn(
        { file: this.file, found: header.kind },
        "journal header names another kind; reading it anyway",
      );
    }
    const foundVersion = header?.version ?? 0;
    if (foundVersion > this.options.version) {
      throw stateNewerError(this.file, foundVersion, this.options.version, { kind: this.options.kind });
    }
    const empty = data.length === 0;
    if (!empty && foundVersion !== this.options.version) {
      lines = this.options.migrate ? this.options.migrate(lines, foundVersion) : lines;
      this.log.info(
        { file: this.file, from: foundVersion, to: this.options.version, records: lines.length },
        foundVersion === 0
          ? "journal written by an earlier release: migrated to the current format"
          : `journal format ${foundVersion} migrated to ${this.options.version}`,
      );
    }
    if (torn)
      this.log.warn(
        { file: this.file },
        "journal had an incomplete last line (a crash mid-write); it was dropped",
      );
    if (empty || torn || foundVersion !== this.options.version) {
      await this.writeWhole(lines);
    } else {
      await this.openForAppend();
      this.stats = { ...this.stats, lines: lines.length, bytes: data.length };
    }
    return { lines, torn, foundVersion };
  }

  /** Adds an entry to the next write; the promise settles when that write does. */
  append(entry: JournalEntry | readonly JournalEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(internalError(`the journal ${this.file} is closed`));
    if (Array.isArray(entry)) this.queue.push(...(entry as JournalEntry[]));
    else this.queue.push(entry as JournalEntry);
    if (!this.scheduled) {
      const ready = this.options.commitAt === "turn" ? this.chain.then(endOfTurn) : this.chain;
      const write = ready.then(() => {
        this.scheduled = undefined;
        return this.commit(this.queue.splice(0));
      });
      this.scheduled = write;
      // One failed write fails its own callers only; the next batch still goes out.
      this.chain = write.catch(() => undefined);
    }
    return this.scheduled;
  }

  /** Rewrites the file as the owner's snapshot, after the writes under way. */
  compact(): Promise<void> {
    const run = this.chain.then(() => this.rewriteSnapshot());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Counters for status and benchmarks. */
  get counters(): Readonly<JournalStats> {
    return this.stats;
  }

  /** Resolves once every write started so far has settled. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Waits for the writes under way and closes the file; later appends fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.closeHandle();
  }

  private async commit(batch: JournalEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const text = `${this.newlineFirst ? "\n" : ""}${batch.map((entry) => `${entry.line}\n`).join("")}`;
    try {
      await this.ensureOwnFile();
      writeAll(this.fd!, text);
    } catch (error) {
      for (const entry of batch) entry.undo?.();
      await this.cutBack();
      throw isClawbridgeError(error) ? error : stateIoError(this.file, error);
    }
    this.newlineFirst = false;
    this.stats.bytes += Buffer.byteLength(text);
    for (const entry of batch) this.stats.lines += entry.records ?? 1;
    this.stats.writes++;
    for (const entry of batch) entry.apply?.();
    if (this.options.shouldCompact?.(this.stats)) {
      // The batch is written either way: a failed rewrite leaves the longer journal, still valid.
      await this.rewriteSnapshot().catch((error: unknown) =>
        this.log.warn({ err: error, file: this.file }, "compacting the journal failed; will retry"),
      );
    }
  }

  /**
   * Opens the file for appending if needed, and makes sure the open handle is still the
   * file at the path: one deleted or replaced underneath is written anew from the snapshot.
   */
  private async ensureOwnFile(): Promise<void> {
    let inode: number | undefined;
    try {
      inode = fsSync.statSync(this.file).ino;
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
    if (this.fd !== undefined && inode !== undefined && inode === this.inode) return;
    if (this.fd !== undefined) {
      this.log.warn(
        { file: this.file, deleted: inode === undefined },
        "journal file was deleted or replaced underneath; writing what this process knows again",
      );
    }
    await this.closeHandle();
    await this.rewriteSnapshot();
  }

  private async rewriteSnapshot(): Promise<void> {
    await this.writeWhole(await this.options.snapshot());
    this.stats.compactions++;
  }

  /** Writes header + lines atomically and opens the new file for appending. */
  private async writeWhole(lines: readonly string[]): Promise<void> {
    const text = `${[this.header, ...lines].join("\n")}\n`;
    try {
      await writeFileAtomic(this.file, text);
    } catch (error) {
      throw stateIoError(this.file, error);
    }
    await this.openForAppend();
    this.stats.lines = lines.length;
    this.stats.bytes = Buffer.byteLength(text);
    this.stats.writes++;
    this.newlineFirst = false;
  }

  private async openForAppend(): Promise<void> {
    await this.closeHandle();
    try {
      this.fd = fsSync.openSync(this.file, "a");
      this.inode = fsSync.fstatSync(this.fd).ino;
    } catch (error) {
      await this.closeHandle();
      throw stateIoError(this.file, error);
    }
  }

  /** After a failed append: back to the last good size, or a newline before the next one. */
  private async cutBack(): Promise<void> {
    if (this.fd === undefined) {
      this.newlineFirst = true;
      return;
    }
    try {
      fsSync.ftruncateSync(this.fd, this.stats.bytes);
    } catch {
      this.newlineFirst = true;
    }
  }

  private async closeHandle(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    this.inode = undefined;
    if (fd === undefined) return;
    try {
      fsSync.closeSync(fd);
    } catch {
      // Closing a descriptor can only fail if it is already gone.
    }
  }
}

/**
 * Writes all of `text` at the end of `fd` (opened for appending). Synchronous on purpose:
 * the state folder is local to this machine (its lock refuses a copied one) and an append
 * lands in the page cache in microseconds, where a thread-pool round trip costs ~30 µs per
 * call — the stat and the write of every commit of every outbox.
 */
function writeAll(fd: number, text: string): void {
  const written = fsSync.writeSync(fd, text);
  if (written === Buffer.byteLength(text)) return;
  // A short write (a full disk, a signal): the rest from where it stopped.
  const buffer = Buffer.from(text);
  for (let offset = written; offset < buffer.length;) {
    offset += fsSync.writeSync(fd, buffer, offset, buffer.length - offset);
  }
}

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function parseHeader(line: string): { kind: string; version: number } | undefined {
  if (!line.startsWith('{"journal":')) return undefined;
  try {
    const parsed = JSON.parse(line) as { journal?: unknown; version?: unknown };
    if (typeof parsed.journal === "string" && typeof parsed.version === "number") {
      return { kind: parsed.journal, version: parsed.version };
    }
  } catch {
    // Not a header: a record of an older, headerless file.
  }
  return undefined;
}

/** A journal file's content: its records (complete lines, header left out), the header, a torn last line. */
export interface JournalFile {
  lines: string[];
  header: { kind: string; version: number } | undefined;
  /** The file ended in a line without its newline (a write cut short); it is not in `lines`. */
  torn: boolean;
}

/** Splits a journal file's bytes: only newline-terminated lines count, the header is set apart. */
export function splitJournal(data: Buffer): JournalFile {
  const completeBytes = data.lastIndexOf(NEWLINE) + 1;
  const lines = completeBytes === 0 ? [] : data.toString("utf8", 0, completeBytes - 1).split("\n");
  const header = lines.length > 0 ? parseHeader(lines[0]!) : undefined;
  if (header) lines.shift();
  return { lines: lines.filter((line) => line !== ""), header, torn: completeBytes < data.length };
}

/**
 * A journal file as it is on disk, left unchanged (a missing file is empty): for readers
 * that are not its owner (doctor, the `state` command, tests).
 */
export async function readJournalFile(file: string): Promise<JournalFile> {
  try {
    return splitJournal(await fs.readFile(file));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { lines: [], header: undefined, torn: false };
    throw stateIoError(file, error);
  }
}

/**
 * Refuses a journal file written by a newer release (`CB_STATE_NEWER`), reading only: for
 * journals first loaded on their first write (the quarantine), so the start refuses instead.
 */
export async function assertJournalFormat(file: string, kind: string, version: number): Promise<void> {
  const header = await readJournalHeader(file);
  if (header && header.version > version) throw stateNewerError(file, header.version, version, { kind });
}

/** The header of a journal file, reading only its first line (undefined: none, or no file). */
export async function readJournalHeader(file: string): Promise<JournalFile["header"]> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, "r");
    const head = Buffer.alloc(HEADER_READ_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const end = head.subarray(0, bytesRead).indexOf(NEWLINE);
    return end < 0 ? undefined : parseHeader(head.toString("utf8", 0, end));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw stateIoError(file, error);
  } finally {
    await handle?.close();
  }
}

/** The record lines of a journal file on disk (see `readJournalFile`). */
export async function readJournalLines(file: string): Promise<string[]> {
  return (await readJournalFile(file)).lines;
}
