import { Journal } from "./journal.js";
import { JOURNAL_FORMATS } from "./state-formats.js";
import type { Logger } from "./logger.js";
import { RecentIds } from "./recent-ids.js";

/**
 * A persisted, bounded set of recent ids: a journal of one id per line, loaded into a
 * `RecentIds` at start and compacted to the newest `capacity` ids when it has grown to ten
 * times that (so compaction is rare). The caller records an id only after its effect is
 * durable, so a crash costs at worst one more processing of an id, never a lost one.
 */
export class PersistentIdLog {
  private readonly recent: RecentIds;
  private readonly journal: Journal;

  constructor(
    readonly file: string,
    readonly capacity = 10_000,
    logger?: Logger,
    commitAt: "microtask" | "turn" = "microtask",
  ) {
    this.recent = new RecentIds(capacity);
    this.journal = new Journal({
      file,
      kind: "ids",
      version: JOURNAL_FORMATS["ids"],
      logger,
      commitAt,
      snapshot: () => [...this.recent.values()],
      shouldCompact: (stats) => stats.lines > this.capacity * 10,
    });
  }

  async load(): Promise<void> {
    const { lines } = await this.journal.load();
    for (const id of lines.slice(-this.capacity)) this.recent.add(id);
    if (lines.length > this.capacity * 10) await this.journal.compact();
  }

  has(id: string): boolean {
    return this.recent.has(id);
  }

  /**
   * Remembers the ids: in memory at once, on disk when the promise resolves. Ids added while
   * a write is under way go out together in the next one (group commit).
   */
  add(...ids: string[]): Promise<void> {
    const fresh = ids.filter((id) => this.recent.add(id));
    if (fresh.length === 0) return this.journal.idle();
    return this.journal.append(fresh.map((id) => ({ line: id.replace(/\s/g, "_") })));
  }

  get size(): number {
    return this.recent.size;
  }

  /** Waits for pending writes and closes the file. */
  close(): Promise<void> {
    return this.journal.close();
  }
}
