import { promises as fs } from "node:fs";
import { ClawbridgeError, writeFileAtomic } from "../core/index.js";

/** A journal line waiting for the next write, with what it changes in memory once written (or not). */
export interface JournalEntry {
  line: string;
  apply(): void;
  undo(): void;
}

/**
 * Appends to one journal file with group commit: entries added while a write is under way
 * go out together in the next one, so a burst costs a few appends, not one per entry.
 * Writes never overlap, and `afterWrite` (compaction) runs between them, so a rewrite
 * cannot lose an append. A failed append fails only its own entries and is cut back, so
 * no half line is ever glued to the next one.
 */
export class JournalWriter {
  /** Lines in the file, for deciding when to rewrite it. */
  lines = 0;
  /** Appends and rewrites done. */
  writes = 0;
  private queue: JournalEntry[] = [];
  private scheduled: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** File size after the last good write: a failed append is cut back to it. */
  private bytes = 0;
  /** A failed append could not be cut back: start the next one on a fresh line. */
  private newlineFirst = false;

  constructor(
    readonly file: string,
    private readonly afterWrite: () => Promise<void>,
  ) {}

  /** What a freshly read file holds: its complete lines and their bytes. */
  reset(lines: number, bytes: number): void {
    this.lines = lines;
    this.bytes = bytes;
  }

  /** Adds an entry to the next write; the promise settles when that write does. */
  add(entry: JournalEntry): Promise<void> {
    this.queue.push(entry);
    if (!this.scheduled) {
      const write = this.chain.then(() => {
        this.scheduled = undefined;
        return this.append(this.queue.splice(0));
      });
      this.scheduled = write;
      // One failed write fails its own callers only; the next batch still goes out.
      this.chain = write.catch(() => undefined);
    }
    return this.scheduled;
  }

  /** Replaces the whole file atomically; only from `afterWrite` or before the first `add`. */
  async rewrite(lines: readonly string[]): Promise<void> {
    const text = lines.length > 0 ? `${lines.join("\n")}\n` : "";
    await writeFileAtomic(this.file, text);
    this.bytes = Buffer.byteLength(text);
    this.lines = lines.length;
    this.newlineFirst = false;
    this.writes++;
  }

  /** Resolves once every write started so far has settled. */
  async idle(): Promise<void> {
    await this.chain;
  }

  private async append(batch: JournalEntry[]): Promise<void> {
    const text = `${this.newlineFirst ? "\n" : ""}${batch.map((entry) => `${entry.line}\n`).join("")}`;
    try {
      await fs.appendFile(this.file, text);
    } catch (error) {
      for (const entry of batch) entry.undo();
      await fs.truncate(this.file, this.bytes).catch(() => (this.newlineFirst = true));
      throw new ClawbridgeError("CB_STATE_IO", `${this.file}: ${(error as Error).message}`, {
        fix: "check that the state folder (state.dir) has free space and is writable by this user",
        cause: error,
      });
    }
    this.newlineFirst = false;
    this.bytes += Buffer.byteLength(text);
    this.lines += batch.length;
    this.writes++;
    for (const entry of batch) entry.apply();
    await this.afterWrite();
  }
}
