import { closeSync, openSync, readdirSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";

/** One whole line that appeared in an inbox, parsed, with when this process first read it (epoch ms). */
export interface SeenLine {
  /** The inbox's node (`to-<node>.jsonl`). */
  node: string;
  line: Record<string, unknown>;
  at: number;
}

/** How often every inbox is looked at even without a change event (a missed event costs this much). */
const SAFETY_POLL_MS = 100;

/**
 * Follows every `messages/to-*.jsonl` from its start as lines are appended (inotify through
 * `fs.watch`, plus a slow poll), and hands each whole line to `onLine` once: the soak's view
 * of what arrived in the shared folder and when.
 */
export class InboxWatch {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, Buffer>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  /** Lines that were not JSON objects (none is expected). */
  unreadable = 0;

  constructor(
    private readonly dir: string,
    private readonly onLine: (seen: SeenLine) => void,
  ) {}

  start(): void {
    this.watcher = watch(this.dir, (_event, name) => {
      if (name) this.read(name);
    });
    this.timer = setInterval(() => this.readAll(), SAFETY_POLL_MS);
  }

  /** Reads whatever is new in every inbox now. */
  readAll(): void {
    for (const name of readdirSync(this.dir)) this.read(name);
  }

  /** Stops following, after one last look. */
  stop(): void {
    if (!this.watcher) return;
    this.watcher.close();
    this.watcher = undefined;
    clearInterval(this.timer);
    this.readAll();
  }

  private read(name: string): void {
    const match = /^to-(.+)\.jsonl$/.exec(name);
    if (!match) return;
    const file = path.join(this.dir, name);
    const from = this.offsets.get(name) ?? 0;
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size <= from) return;
    const bytes = Buffer.alloc(size - from);
    const fd = openSync(file, "r");
    try {
      readSync(fd, bytes, 0, bytes.length, from);
    } finally {
      closeSync(fd);
    }
    this.offsets.set(name, size);
    const at = performance.timeOrigin + performance.now();
    // Split on the byte: a line may end in the middle of a multi-byte character.
    let text = Buffer.concat([this.partial.get(name) ?? Buffer.alloc(0), bytes]);
    for (let end = text.indexOf(0x0a); end >= 0; end = text.indexOf(0x0a)) {
      const raw = text.subarray(0, end).toString("utf8");
      text = text.subarray(end + 1);
      if (raw.trim() === "") continue;
      try {
        const line = JSON.parse(raw) as unknown;
        if (line && typeof line === "object" && !Array.isArray(line)) {
          this.onLine({ node: match[1]!, line: line as Record<string, unknown>, at });
          continue;
        }
      } catch {
        // Counted below.
      }
      this.unreadable++;
    }
    this.partial.set(name, Buffer.from(text));
  }
}
