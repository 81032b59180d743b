import path from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { systemClock, type Clock, type TimerHandle } from "../../core/index.js";
import { isSharedFile } from "./shared-files.js";

/**
 * chokidar lets one `change` per 50 ms through per file and drops the trailing one; waiting
 * longer than that after the last event and then reading covers the dropped writes.
 */
export const FOLDER_DEBOUNCE_MS = 120;
/** A folder written to without pause is still reported this often. */
const MAX_WAIT_MS = 500;

/**
 * Watches the shared folder for the files the panel shows (created, appended, rewritten,
 * removed) and reports them in batches, debounced: an agent appending ten lines in a burst
 * makes one report. Folders created later (`status/` once a node writes its first status)
 * are picked up because the root itself is watched, two levels deep.
 */
export class FolderWatch {
  private watcher: FSWatcher | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Set<string>();
  private timer: TimerHandle | undefined;
  /** When the batch waiting to be reported began. */
  private batchStart = 0;

  constructor(
    private readonly root: string,
    private readonly onChanged: (paths: string[]) => void,
    private readonly debounceMs = FOLDER_DEBOUNCE_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Starts watching; resolves once the folder has been looked at (changes after that are reported). */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const root = this.root;
    this.watcher = watch(root, {
      depth: 1,
      ignoreInitial: true,
      persistent: true,
      ignorePermissionErrors: true,
      // Lock files and temp files of atomic writes come and go all the time; only shown files count.
      ignored: (file: string) => {
        const rel = path.relative(root, file).split(path.sep).join("/");
        if (rel === "" || rel === "messages" || rel === "tasks" || rel === "status") return false;
        return !isSharedFile(rel);
      },
    });
    const note = (file: string) => this.note(path.relative(root, file).split(path.sep).join("/"));
    this.watcher.on("add", note).on("change", note).on("unlink", note);
    // A watcher failure (the folder went away) must not crash the bridge; the page just stops updating.
    this.watcher.on("error", () => undefined);
    const watcher = this.watcher;
    this.ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    return this.ready;
  }

  async stop(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    const watcher = this.watcher;
    this.watcher = undefined;
    this.ready = undefined;
    await watcher?.close();
  }

  private note(rel: string): void {
    if (!isSharedFile(rel)) return;
    this.pending.add(rel);
    const now = this.clock.now();
    if (this.timer === undefined) this.batchStart = now;
    else if (now - this.batchStart >= MAX_WAIT_MS) return;
    this.clock.clearTimeout(this.timer);
    const delay = Math.min(this.debounceMs, MAX_WAIT_MS - (now - this.batchStart));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const paths = [...this.pending];
      this.pending.clear();
      if (paths.length > 0) this.onChanged(paths);
    }, delay);
  }
}
