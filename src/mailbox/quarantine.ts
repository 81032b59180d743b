import path from "node:path";
import {
  assertJournalFormat,
  Journal,
  JOURNAL_FORMATS,
  readJournalLines,
  type Logger,
} from "../core/index.js";

/** One line that could not be read as an envelope, kept with where it was and why. */
export interface QuarantineRecord {
  at: string;
  /** Inbox file name, e.g. `to-ai-pc.jsonl`. */
  file: string;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** Length in bytes, without the newline. */
  length: number;
  reason: string;
  /** The start of the line (at most 500 characters) so a person can find and fix it. */
  sample?: string;
}

export interface QuarantineSink {
  put(record: QuarantineRecord): Promise<void>;
  /** Waits for pending writes and lets go of the file. */
  close?(): Promise<void>;
}

export const QUARANTINE_FILE = "quarantine.jsonl";

/**
 * `state.dir/quarantine.jsonl`, a journal bounded by size: past `maxBytes` it is rewritten
 * with its newest records (half of `maxBytes`), so a flood of bad lines cannot fill the disk
 * and the latest problems are always there to read.
 */
export class FileQuarantine implements QuarantineSink {
  readonly file: string;
  private readonly journal: Journal;

  constructor(
    stateDir: string,
    private readonly maxBytes = 8 * 1024 * 1024,
    logger?: Logger,
  ) {
    this.file = path.join(stateDir, QUARANTINE_FILE);
    this.journal = new Journal({
      file: this.file,
      kind: "quarantine",
      version: JOURNAL_FORMATS["quarantine"],
      logger,
      snapshot: () => this.newest(),
      shouldCompact: (stats) => stats.bytes > this.maxBytes,
    });
  }

  async put(record: QuarantineRecord): Promise<void> {
    await this.journal.load();
    await this.journal.append({ line: JSON.stringify(record) });
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  /**
   * Refuses a quarantine written by a newer release (`CB_STATE_NEWER`) without changing it:
   * the journal itself is first read on its first write, and the start should refuse instead.
   */
  static assertFormat(stateDir: string): Promise<void> {
    return assertJournalFormat(
      path.join(stateDir, QUARANTINE_FILE),
      "quarantine",
      JOURNAL_FORMATS.quarantine,
    );
  }

  /** How many records the file holds (for `doctor`). */
  static async count(stateDir: string): Promise<number> {
    return (await readJournalLines(path.join(stateDir, QUARANTINE_FILE)).catch(() => [])).length;
  }

  /** The newest records that fit in half of `maxBytes`: what a rewrite keeps. */
  private async newest(): Promise<string[]> {
    const lines = await readJournalLines(this.file).catch(() => [] as string[]);
    const kept: string[] = [];
    let bytes = 0;
    for (let i = lines.length - 1; i >= 0; i--) {
      bytes += Buffer.byteLength(lines[i]!) + 1;
      if (bytes > this.maxBytes / 2) break;
      kept.push(lines[i]!);
    }
    return kept.reverse();
  }
}

/** A sink that hands records to a callback (the `tail` command prints them). */
export class CallbackQuarantine implements QuarantineSink {
  constructor(private readonly onRecord: (record: QuarantineRecord) => void) {}
  async put(record: QuarantineRecord): Promise<void> {
    this.onRecord(record);
  }
}
