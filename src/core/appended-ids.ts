import fs from "node:fs";

/**
 * The ids of the lines at the end of append-only JSONL files, kept up to date by reading
 * only what was added since the last look. It lets a locked append skip lines whose id is
 * in the file already, decided under the file's lock: two writers that both believed they
 * owned an append (a replica resumed after its lease ran out, a retry after a lost answer)
 * cannot write the same line twice, whatever they checked before taking the lock.
 */
export class AppendedIds {
  private readonly files = new Map<string, { ino: number; scannedTo: number; ids: Set<string> }>();

  constructor(
    /** How far back a file is read the first time it is looked at (or after it shrank). */
    private readonly windowBytes = 4 * 1024 * 1024,
    /** Ids remembered per file, the newest kept. */
    private readonly maxIds = 200_000,
    /** Files remembered, the most recently used kept. */
    private readonly maxFiles = 256,
  ) {}

  /** The ids at the end of the open file `fd` (named `file`), `size` bytes long. */
  idsOf(file: string, fd: number, size: number): ReadonlySet<string> {
    const { ino } = fs.fstatSync(fd);
    let known = this.files.get(file);
    // Replaced or cut back (rotated, truncated by a repair): read its end afresh.
    if (!known || known.ino !== ino || size < known.scannedTo) {
      known = { ino, scannedTo: Math.max(0, size - this.windowBytes), ids: new Set() };
      // Starting mid-file: the first, partial line is skipped below by its missing start.
      if (known.scannedTo > 0) known.scannedTo = this.lineStartAfter(fd, known.scannedTo, size);
    }
    this.files.delete(file);
    this.files.set(file, known);
    if (this.files.size > this.maxFiles) this.files.delete(this.files.keys().next().value!);
    if (size > known.scannedTo) {
      const added = Buffer.alloc(size - known.scannedTo);
      readWhole(fd, added, known.scannedTo);
      // Only whole lines: a line still being written (no newline yet) is read next time.
      const end = added.lastIndexOf(0x0a) + 1;
      for (const line of added.subarray(0, end).toString("utf8").split("\n")) {
        const id = idOfLine(line);
        if (id === undefined) continue;
        known.ids.delete(id);
        known.ids.add(id);
        if (known.ids.size > this.maxIds) known.ids.delete(known.ids.values().next().value!);
      }
      known.scannedTo += end;
    }
    return known.ids;
  }

  private lineStartAfter(fd: number, from: number, size: number): number {
    const probe = Buffer.alloc(Math.min(64 * 1024, size - from));
    for (let at = from; at < size; at += probe.length) {
      const n = fs.readSync(fd, probe, 0, Math.min(probe.length, size - at), at);
      const newline = probe.subarray(0, n).indexOf(0x0a);
      if (newline >= 0) return at + newline + 1;
      if (n === 0) break;
    }
    return size;
  }
}

function readWhole(fd: number, into: Buffer, position: number): void {
  for (let offset = 0; offset < into.length;) {
    const n = fs.readSync(fd, into, offset, into.length - offset, position + offset);
    if (n === 0) break;
    offset += n;
  }
}

/** A line's top-level `id`, when it is a JSON object that has one. */
function idOfLine(line: string): string | undefined {
  if (!line.includes('"id"')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== "object" || value === null) return undefined;
    const id = (value as { id?: unknown }).id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}
