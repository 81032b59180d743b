import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { DemoWorld } from "../types.js";
import { DemoApiError } from "./api-error.js";
import { FolderWatch } from "./folder-watch.js";
import { messageView } from "./message-view.js";
import { tailSharedFile } from "./shared-files.js";
import type { WorldDirectory } from "./world-directory.js";

/** Open pages at once; each holds a connection, and a demo needs a handful. */
export const MAX_LISTENERS = 32;
/** A comment line this often keeps proxies and the browser from calling the stream dead. */
const HEARTBEAT_MS = 20_000;
/** A page that reads slower than this much is behind is cut off; it reconnects and reloads. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** The browser waits this long before reconnecting. */
const RETRY_MS = 1_000;

/**
 * The page's one live channel (Server-Sent Events): `message` (created), `patch` (a card
 * replaced) and `file` (a shared file changed, with its new tail). The emulator listener
 * and the folder watcher exist only while at least one page listens. Events carry whole
 * views, so a page that reconnects only has to reload once to be exact again.
 */
export class LiveEvents {
  private readonly streams = new Set<PassThrough>();
  private readonly folder: FolderWatch;
  private unsubscribe: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly world: DemoWorld,
    private readonly dir: WorldDirectory,
  ) {
    this.folder = new FolderWatch(world.sharedDir, (paths) => void this.filesChanged(paths));
  }

  /** Number of open pages (for tests and health). */
  get listeners(): number {
    return this.streams.size;
  }

  /**
   * `GET /demo/api/events`. The answer starts only once the folder watcher is ready, so a page
   * that reloads when its stream opens (as ours does) cannot miss a change in between.
   */
  async open(ctx: Context): Promise<void> {
    if (this.closed) throw new DemoApiError(503, "closing");
    if (this.streams.size >= MAX_LISTENERS)
      throw new DemoApiError(503, "tooManyListeners", { max: MAX_LISTENERS });
    const stream = new PassThrough();
    this.streams.add(stream);
    const done = () => this.drop(stream);
    ctx.req.on("close", done);
    stream.on("close", done);
    stream.on("error", done);
    if (this.streams.size === 1) this.startSources();
    await this.folder.start();
    if (this.closed || !this.streams.has(stream)) throw new DemoApiError(503, "closing");

    ctx.req.socket.setNoDelay(true);
    ctx.req.socket.setKeepAlive(true);
    ctx.status = 200;
    ctx.set("Content-Type", "text/event-stream; charset=utf-8");
    ctx.set("Cache-Control", "no-store");
    ctx.set("X-Accel-Buffering", "no");
    ctx.body = stream;
    stream.write(`retry: ${RETRY_MS}\n\n`);
    this.send(stream, "hello", { listeners: this.streams.size });
  }

  /** Ends every stream and stops listening: the bridge's listener can then close at once. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stream of [...this.streams]) stream.end();
    this.streams.clear();
    await this.stopSources();
  }

  private startSources(): void {
    this.unsubscribe = this.world.emulator.onMessageChange((change) => {
      if (change.chatId !== this.world.chatId) return;
      const message = this.world.emulator.message(change.messageId);
      if (!message) return;
      const event = change.kind === "created" ? "message" : "patch";
      this.broadcast(event, { message: messageView(message, this.dir) });
    });
    void this.folder.start();
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.write(": ping\n\n");
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private async stopSources(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.folder.stop();
  }

  private drop(stream: PassThrough): void {
    if (!this.streams.delete(stream)) return;
    stream.end();
    if (this.streams.size === 0) void this.stopSources();
  }

  private async filesChanged(paths: string[]): Promise<void> {
    for (const rel of paths) {
      const tail = await tailSharedFile(this.world.sharedDir, rel).catch(() => undefined);
      this.broadcast("file", tail ? { file: tail } : { removed: rel });
    }
  }

  private broadcast(event: string, data: unknown): void {
    for (const stream of this.streams) this.send(stream, event, data);
  }

  private send(stream: PassThrough, event: string, data: unknown): void {
    if (stream.writableLength > MAX_BUFFERED_BYTES) {
      this.drop(stream);
      return;
    }
    // JSON never contains a raw newline, so one `data:` line carries the whole event.
    stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
