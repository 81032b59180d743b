import { promises as fs } from "node:fs";
import path from "node:path";

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
}

/**
 * `state.dir/quarantine.jsonl`, bounded: past `maxBytes` it is rotated to
 * `quarantine.1.jsonl` (one generation kept), so a flood of bad lines cannot fill the disk.
 */
export class FileQuarantine implements QuarantineSink {
  readonly file: string;
  private size: number | undefined;

  constructor(
    stateDir: string,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {
    this.file = path.join(stateDir, "quarantine.jsonl");
  }

  async put(record: QuarantineRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    if (this.size === undefined) {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      this.size = await fs.stat(this.file).then(
        (s) => s.size,
        () => 0,
      );
    }
    if (this.size + line.length > this.maxBytes) {
      await fs.rename(this.file, this.file.replace(/\.jsonl$/, ".1.jsonl")).catch(() => undefined);
      this.size = 0;
    }
    await fs.appendFile(this.file, line);
    this.size += Buffer.byteLength(line);
  }

  /** How many records the current file holds (for `doctor`). */
  static async count(stateDir: string): Promise<number> {
    try {
      const text = await fs.readFile(path.join(stateDir, "quarantine.jsonl"), "utf8");
      return text.split("\n").filter((line) => line.trim() !== "").length;
    } catch {
      return 0;
    }
  }
}

/** A sink that hands records to a callback (the `tail` command prints them). */
export class CallbackQuarantine implements QuarantineSink {
  constructor(private readonly onRecord: (record: QuarantineRecord) => void) {}
  async put(record: QuarantineRecord): Promise<void> {
    this.onRecord(record);
  }
}
