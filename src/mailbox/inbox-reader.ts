// Longer than our usual file: reading lines across chunks, over-long lines, rotation and
// encodings share one offset and one buffer; split apart, each would need the others' state.
import { createHash } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import type { Envelope } from "../core/index.js";
import { RecentIds } from "../core/index.js";
import { parseEnvelopeLine } from "./envelope-line.js";
import { READ_NO_FOLLOW } from "./layout.js";
import { isUtf8 } from "node:buffer";
import { bomLength, decodeLine, type DecodedLine, type LineEncoding } from "./line-decoder.js";
import type { QuarantineRecord } from "./quarantine.js";
import type { InboxCheckpoint } from "./tail-ledger.js";

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
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

/** One envelope read from an inbox, and where it came from. */
export interface TailedEnvelope {
  envelope: Envelope;
  meta: EnvelopeMeta;
}

/** Where an `InboxReader` hands what it reads. */
export interface ReadSink {
  /**
   * One chunk's envelopes, in file order; awaited before anything after them is read. A chunk
   * at a time, not a line at a time: a handler that writes to a store over the network pays
   * one round trip for the lot instead of one per line.
   */
  envelopes(batch: readonly TailedEnvelope[]): Promise<void>;
  /** One line that is not an envelope. */
  quarantine(record: Omit<QuarantineRecord, "at">): void;
  /** Everything before `offset` was handed over; the reader's offset moves once this resolves. */
  committed(offset: number): Promise<void>;
  /** The file shrank or was replaced: reading starts again at 0. */
  rotated(): Promise<void>;
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
  /**
   * Lines ending at or before this offset may have been delivered before (a re-read after a
   * rotation or a failed handler) and are checked against `recent`; lines beyond it are new.
   * Skipping the check for new lines matters on a cold read of a large inbox.
   */
  repeatBelow = 0;
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
    this.recent = new RecentIds(options.recentIds ?? 10_000, { indexLazily: true });
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

  /** Bytes read from this file so far (resume cost, metrics). */
  bytesRead = 0;

  private async readAt(
    handle: fs.FileHandle,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    const result = await handle.read(buffer, offset, length, position);
    this.bytesRead += result.bytesRead;
    return result;
  }

  checkpoint(): InboxCheckpoint {
    return { offset: this.offset, headHash: this.head?.hash, headLength: this.head?.length };
  }

  /** Where a reader that starts "at the end" begins: after the last complete line. */
  async seekToEnd(): Promise<void> {
    const handle = await fs.open(this.path, READ_NO_FOLLOW);
    try {
      const { size } = await handle.stat();
      const window = Math.min(size, 64 * 1024);
      const tail = Buffer.alloc(window);
      await this.readAt(handle, tail, 0, window, size - window);
      const lastNewline = tail.lastIndexOf(NEWLINE);
      this.offset = lastNewline >= 0 ? size - window + lastNewline + 1 : size;
      await this.updateHead(handle, size);
    } finally {
      await handle.close();
    }
  }

  /**
   * Reads what was appended since the last call; returns undefined when the file is gone.
   * Envelopes go to the sink a chunk at a time, in file order; after each chunk, `committed` hears the offset everything before which
   * has been handed over, and only then does the reader's own offset move.
   */
  async readNew(sink: ReadSink): Promise<Stats | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, READ_NO_FOLLOW);
    } catch {
      return undefined;
    }
    try {
      let stat = await handle.stat();
      if (await this.wasRotated(handle, stat.size)) {
        this.offset = 0;
        this.head = undefined;
        this.skipping = undefined;
        this.repeatBelow = Number.POSITIVE_INFINITY;
        await sink.rotated();
      }
      while (await this.readAvailable(handle, stat.size, sink)) {
        await this.updateHead(handle, stat.size);
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
    await this.readAt(handle, probe, 0, 1, this.offset - 1);
    if (probe[0] !== NEWLINE) return true;
    if (this.head) {
      const { bytesRead } = await this.readAt(handle, probe, 0, this.head.length, 0);
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
    await this.readAt(handle, bytes, 0, length, 0);
    this.head = { hash: sha256(bytes), length };
  }

  /** Reads from the offset to `size`; returns whether the offset moved. */
  private async readAvailable(handle: fs.FileHandle, size: number, sink: ReadSink): Promise<boolean> {
    const startOffset = this.offset;
    let position = this.skipping ? this.skipping.scanned : this.offset;
    // Bytes of a line that started in an earlier chunk (a line may straddle chunks).
    let carry: Buffer | undefined;
    let lineStart = this.offset;
    while (position < size) {
      const { bytesRead } = await this.readAt(
        handle,
        this.buffer,
        0,
        Math.min(this.chunkBytes, size - position),
        position,
      );
      if (bytesRead === 0) break;
      const chunk = this.buffer.subarray(0, bytesRead);
      const batch: TailedEnvelope[] = [];
      let committed = -1;
      let cursor = 0;
      // One UTF-8 check for all the chunk's complete lines: a newline byte never occurs inside
      // a multi-byte UTF-8 character, so each of them is valid UTF-8 too.
      const lastNewline = chunk.lastIndexOf(NEWLINE);
      const utf8Chunk = lastNewline >= 0 && isUtf8(chunk.subarray(0, lastNewline));
      while (cursor < bytesRead) {
        const newline = chunk.indexOf(NEWLINE, cursor);
        if (this.skipping) {
          if (newline < 0) {
            this.skipping.scanned = position + bytesRead;
            cursor = bytesRead;
            break;
          }
          const end = position + newline;
          sink.quarantine(this.oversize(this.skipping.start, end - this.skipping.start));
          this.skipping = undefined;
          cursor = newline + 1;
          lineStart = position + cursor;
          committed = lineStart;
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
        const end = position + newline + 1;
        const length = (carry?.length ?? 0) + newline - cursor;
        if (length > this.options.maxLineBytes) {
          sink.quarantine(this.oversize(lineStart, length));
        } else if (carry || !utf8Chunk || lineStart === 0) {
          const line = carry
            ? Buffer.concat([carry, chunk.subarray(cursor, newline)])
            : chunk.subarray(cursor, newline);
          this.takeLine(
            decodeLine(lineStart === 0 ? line.subarray(bomLength(line)) : line),
            line,
            lineStart,
            end,
            sink,
            batch,
          );
        } else {
          // The fast path: decode straight from the chunk, without a copy or a second UTF-8 check.
          const stop = newline > cursor && chunk[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
          const decoded = { text: chunk.toString("utf8", cursor, stop), encoding: "utf-8" as const };
          this.takeLine(decoded, undefined, lineStart, end, sink, batch);
        }
        carry = undefined;
        cursor = newline + 1;
        lineStart = end;
        committed = end;
      }
      position += bytesRead;
      if (batch.length > 0) await sink.envelopes(batch);
      if (committed >= 0) {
        await sink.committed(committed);
        this.offset = committed;
      }
    }
    return this.offset !== startOffset;
  }

  private oversize(offset: number, length: number): Omit<QuarantineRecord, "at"> {
    return {
      file: this.inbox,
      offset,
      length,
      reason: `line longer than maxLineBytes (${this.options.maxLineBytes} bytes): ${length} bytes`,
    };
  }

  private takeLine(
    decoded: DecodedLine,
    raw: Buffer | undefined,
    offset: number,
    end: number,
    sink: ReadSink,
    batch: TailedEnvelope[],
  ): void {
    if ("error" in decoded) {
      sink.quarantine({
        file: this.inbox,
        offset,
        length: end - 1 - offset,
        reason: decoded.error,
        sample: raw ? sample(raw) : undefined,
      });
      return;
    }
    const parsed = parseEnvelopeLine(decoded.text, this.inbox);
    if (parsed.kind === "blank") return;
    if (parsed.kind === "invalid") {
      sink.quarantine({
        file: this.inbox,
        offset,
        length: end - 1 - offset,
        reason: parsed.reason,
        sample: decoded.text.slice(0, 500),
      });
      return;
    }
    batch.push({
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
