import { createHash } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import type { Envelope } from "../core/index.js";
import { RecentIds } from "../core/index.js";
import { parseEnvelopeLine } from "./envelope-line.js";
import { bomLength, decodeLine, type LineEncoding } from "./line-decoder.js";
import type { QuarantineRecord } from "./quarantine.js";
import type { InboxCheckpoint } from "./tail-ledger.js";

const NEWLINE = 0x0a;
const HEAD_BYTES = 256;

/** Where an envelope came from. */
export interface EnvelopeMeta {
  /** Inbox file name, e.g. `to-ai-pc.jsonl`. */
  inbox: string;
  /** The node named by the file. */
  node: string;
  offset: number;
  end: number;
  encoding: LineEncoding;
}

export interface ReadBatch {
  envelopes: { envelope: Envelope; meta: EnvelopeMeta }[];
  quarantined: Omit<QuarantineRecord, "at">[];
  /** The offset after the last complete line of this batch. */
  offset: number;
}

export interface InboxReaderOptions {
  maxLineBytes: number;
  chunkBytes?: number;
  recentIds?: number;
}

/**
 * Reads one inbox file incrementally from a byte offset. Only newline-terminated lines
 * count; a line longer than `maxLineBytes` is skipped without being held in memory; a file
 * that shrank or whose first bytes changed is read again from the start, and ids already
 * delivered are not delivered again.
 */
export class InboxReader {
  offset = 0;
  readonly recent: RecentIds;
  private head: { hash: string; length: number } | undefined;
  /** An over-long line being skipped: where it started and how far it has been scanned. */
  private skipping: { start: number; scanned: number } | undefined;
  private readonly chunkBytes: number;
  private buffer: Buffer;

  constructor(
    readonly path: string,
    readonly inbox: string,
    readonly node: string,
    private readonly options: InboxReaderOptions,
  ) {
    this.chunkBytes = options.chunkBytes ?? 1024 * 1024;
    this.buffer = Buffer.allocUnsafe(this.chunkBytes);
    this.recent = new RecentIds(options.recentIds ?? 10_000);
  }

  /** Restores where a previous run stopped. */
  restore(
    checkpoint: InboxCheckpoint | undefined,
    deliveredIds: readonly string[],
    deliveredEnd: number,
  ): void {
    for (const id of deliveredIds) this.recent.add(id);
    this.offset = Math.max(checkpoint?.offset ?? 0, deliveredEnd);
    this.head =
      checkpoint?.headHash && checkpoint.headLength
        ? { hash: checkpoint.headHash, length: checkpoint.headLength }
        : undefined;
  }

  checkpoint(): InboxCheckpoint {
    return { offset: this.offset, headHash: this.head?.hash, headLength: this.head?.length };
  }

  /** Where a reader that starts "at the end" begins: after the last complete line. */
  async seekToEnd(): Promise<void> {
    const handle = await fs.open(this.path, "r");
    try {
      const { size } = await handle.stat();
      const window = Math.min(size, 64 * 1024);
      const tail = Buffer.alloc(window);
      await handle.read(tail, 0, window, size - window);
      const lastNewline = tail.lastIndexOf(NEWLINE);
      this.offset = lastNewline >= 0 ? size - window + lastNewline + 1 : size;
      await this.updateHead(handle, size);
    } finally {
      await handle.close();
    }
  }

  /**
   * Reads what was appended since the last call. Returns undefined when the file is gone.
   * `onBatch` is called per chunk, in file order; the offset moves only after it resolves.
   */
  async readNew(
    onRotation: () => Promise<void>,
    onBatch: (batch: ReadBatch) => Promise<void>,
  ): Promise<Stats | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, "r");
    } catch {
      return undefined;
    }
    try {
      let stat = await handle.stat();
      if (await this.wasRotated(handle, stat.size)) {
        this.offset = 0;
        this.head = undefined;
        this.skipping = undefined;
        await onRotation();
      }
      while (true) {
        const progressed = await this.readAvailable(handle, stat.size, onBatch);
        if (stat.size > this.offset) await this.updateHead(handle, stat.size);
        if (!progressed) break;
        stat = await handle.stat();
      }
      await this.updateHead(handle, stat.size);
      return stat;
    } finally {
      await handle.close();
    }
  }

  private async wasRotated(handle: fs.FileHandle, size: number): Promise<boolean> {
    if (this.offset === 0) return false;
    if (size < this.offset) return true;
    // The byte before our offset must be the newline that ended the last line we read.
    const probe = Buffer.alloc(Math.max(1, this.head?.length ?? 0));
    await handle.read(probe, 0, 1, this.offset - 1);
    if (probe[0] !== NEWLINE) return true;
    if (this.head) {
      const { bytesRead } = await handle.read(probe, 0, this.head.length, 0);
      if (bytesRead < this.head.length || sha256(probe.subarray(0, this.head.length)) !== this.head.hash) {
        return true;
      }
    }
    return false;
  }

  private async updateHead(handle: fs.FileHandle, size: number): Promise<void> {
    const length = Math.min(HEAD_BYTES, size, this.offset);
    if (length === 0 || (this.head && this.head.length >= length)) return;
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, 0);
    this.head = { hash: sha256(bytes), length };
  }

  /** Reads from the offset to `size`; returns whether any bytes were consumed. */
  private async readAvailable(
    handle: fs.FileHandle,
    size: number,
    onBatch: (batch: ReadBatch) => Promise<void>,
  ): Promise<boolean> {
    let progressed = false;
    let position = this.skipping ? this.skipping.scanned : this.offset;
    // Bytes of a line that started in an earlier chunk (a line may straddle chunks).
    let carry: Buffer | undefined;
    let lineStart = this.offset;
    while (position < size) {
      const { bytesRead } = await handle.read(
        this.buffer,
        0,
        Math.min(this.chunkBytes, size - position),
        position,
      );
      if (bytesRead === 0) break;
      const chunk = this.buffer.subarray(0, bytesRead);
      const batch: ReadBatch = { envelopes: [], quarantined: [], offset: this.offset };
      let cursor = 0;
      while (cursor < bytesRead) {
        const newline = chunk.indexOf(NEWLINE, cursor);
        if (this.skipping) {
          if (newline < 0) {
            this.skipping.scanned = position + bytesRead;
            cursor = bytesRead;
            break;
          }
          const end = position + newline;
          batch.quarantined.push({
            file: this.inbox,
            offset: this.skipping.start,
            length: end - this.skipping.start,
            reason: `line longer than maxLineBytes (${this.options.maxLineBytes} bytes): ${end - this.skipping.start} bytes`,
          });
          this.skipping = undefined;
          cursor = newline + 1;
          lineStart = position + cursor;
          batch.offset = lineStart;
          continue;
        }
        if (newline < 0) {
          const pending = (carry?.length ?? 0) + (bytesRead - cursor);
          if (pending > this.options.maxLineBytes) {
            this.skipping = { start: lineStart, scanned: position + bytesRead };
            carry = undefined;
          } else {
            const rest = chunk.subarray(cursor);
            carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
          }
          cursor = bytesRead;
          break;
        }
        let line = chunk.subarray(cursor, newline);
        if (carry) {
          line = Buffer.concat([carry, line]);
          carry = undefined;
        }
        const end = position + newline + 1;
        if (line.length > this.options.maxLineBytes) {
          batch.quarantined.push({
            file: this.inbox,
            offset: lineStart,
            length: line.length,
            reason: `line longer than maxLineBytes (${this.options.maxLineBytes} bytes): ${line.length} bytes`,
          });
        } else {
          this.takeLine(line, lineStart, end, batch);
        }
        cursor = newline + 1;
        lineStart = end;
        batch.offset = end;
      }
      position += bytesRead;
      if (batch.offset !== this.offset || batch.quarantined.length > 0) {
        await onBatch(batch);
        this.offset = batch.offset;
        progressed = true;
      }
    }
    return progressed;
  }

  private takeLine(line: Buffer, offset: number, end: number, batch: ReadBatch): void {
    const bom = offset === 0 ? bomLength(line) : 0;
    const decoded = decodeLine(bom ? line.subarray(bom) : line);
    if ("error" in decoded) {
      batch.quarantined.push({
        file: this.inbox,
        offset,
        length: line.length,
        reason: decoded.error,
        sample: sample(line),
      });
      return;
    }
    const parsed = parseEnvelopeLine(decoded.text, this.inbox);
    if (parsed.kind === "blank") return;
    if (parsed.kind === "invalid") {
      batch.quarantined.push({
        file: this.inbox,
        offset,
        length: line.length,
        reason: parsed.reason,
        sample: decoded.text.slice(0, 500),
      });
      return;
    }
    batch.envelopes.push({
      envelope: parsed.envelope,
      meta: { inbox: this.inbox, node: this.node, offset, end, encoding: decoded.encoding },
    });
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function sample(line: Buffer): string {
  return line.subarray(0, 500).toString("latin1");
}
