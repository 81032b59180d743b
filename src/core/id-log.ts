import { promises as fs } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import { RecentIds } from "./recent-ids.js";

/**
 * A persisted, bounded set of recent ids: an append-only file of one id per line, loaded
 * into a `RecentIds` at start and compacted to the newest `capacity` ids when it has grown
 * to ten times that (so compaction is rare). A torn last line from a crash is ignored —
 * the caller records an id only after its effect is durable, so at worst an id is
 * processed once more, never lost.
 */
export class PersistentIdLog {
  private readonly recent: RecentIds;
  private lines = 0;
  private writes: Promise<void> = Promise.resolve();
  private nextWrite?: Promise<void>;
  private queued: string[] = [];

  constructor(
    readonly file: string,
    readonly capacity = 10_000,
  ) {
    this.recent = new RecentIds(capacity);
  }

  async load(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    let text = "";
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const complete = text.endsWith("\n") ? text : text.slice(0, text.lastIndexOf("\n") + 1);
    const ids = complete.split("\n").filter((line) => line !== "");
    for (const id of ids.slice(-this.capacity)) this.recent.add(id);
    this.lines = ids.length;
    if (complete.length !== text.length) await this.compact();
  }

  has(id: string): boolean {
    return this.recent.has(id);
  }

  /**
   * Remembers the ids (in memory at once, on disk when the promise resolves). Ids added
   * while a write is under way go out together in the next one (group commit), so a burst
   * costs a few appends, not one per id.
   */
  add(...ids: string[]): Promise<void> {
    for (const id of ids) if (this.recent.add(id)) this.queued.push(id.replace(/\s/g, "_"));
    if (this.queued.length === 0) return this.writes;
    this.nextWrite ??= this.writes.then(async () => {
      this.nextWrite = undefined;
      const batch = this.queued.splice(0);
      await fs.appendFile(this.file, `${batch.join("\n")}\n`);
      this.lines += batch.length;
      if (this.lines > this.capacity * 10) await this.compact();
    });
    this.writes = this.nextWrite;
    return this.nextWrite;
  }

  get size(): number {
    return this.recent.size;
  }

  /** Waits for pending writes. */
  async close(): Promise<void> {
    await this.writes;
  }

  private async compact(): Promise<void> {
    let text = "";
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch {
      return;
    }
    // A torn last line (no newline) is dropped, or the next append would be glued to it.
    const kept = text
      .slice(0, text.lastIndexOf("\n") + 1)
      .split("\n")
      .filter((line) => line !== "")
      .slice(-this.capacity);
    await writeFileAtomic(this.file, kept.length ? `${kept.join("\n")}\n` : "");
    this.lines = kept.length;
  }
}
