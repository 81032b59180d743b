// Longer than our usual file: watching, polling, retry back-off and checkpoints all decide
// when one inbox is read again, and must agree on the same per-inbox state.
import { promises as fs } from "node:fs";
import path from "node:path";
import { watch, type FSWatcher } from "chokidar";
import {
  internalError,
  isoWithOffset,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import {
  oneByOne,
  unwrapIncomplete,
  type EnvelopeBatchHandler,
  type EnvelopeHandler,
} from "./envelope-batch.js";
import { InboxReader, type ReadSink, type TailedEnvelope } from "./inbox-reader.js";
import { nodeOfInboxFile, type MailboxLayout } from "./layout.js";
import type { QuarantineRecord, QuarantineSink } from "./quarantine.js";
import type { DeliveredEntry, InboxMemory, TailLedger } from "./tail-ledger.js";
import { decideWatchMode, type WatchDecision, type WatchSetting } from "./watch-mode.js";

export interface TailerOptions {
  layout: MailboxLayout;
  ledger: TailLedger;
  quarantine: QuarantineSink;
  /** Takes envelopes one at a time; or give `handleBatch`. */
  handler?: EnvelopeHandler;
  /** Takes a read chunk's envelopes at once (see `EnvelopeBatchHandler`); or give `handler`. */
  handleBatch?: EnvelopeBatchHandler;
  logger?: Logger;
  watch?: WatchSetting;
  /** Poll interval in poll mode. */
  pollMs?: number;
  /** The slow safety poll in native mode: change events are hints, not a guarantee. */
  safetyPollMs?: number;
  maxLineBytes?: number;
  /** Where to begin in files this tailer has never read: `end` (default) or `start` (replay). */
  startAt?: "start" | "end";
  /** Delay before saving checkpoints after progress (the delivered log is written at once). */
  checkpointDelayMs?: number;
  clock?: Clock;
}

// chokidar (4 and 5) lets one `change` per 50 ms through per file and drops the trailing
// one, so each event is followed by re-reads that cover the throttle window.
const FOLLOW_UP_MS = [15, 35, 60];
/** How often the messages folder is looked at for new inbox files (its mtime: one stat). */
const NEW_FILE_POLL_MS = 50;
// After a failed read (a handler that threw, an I/O error) the inbox waits, doubling up to 30 s,
// and events in between do not retry it early: a persistent failure must not spin.
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/**
 * Follows every `messages/to-*.jsonl` and hands each new envelope to the handler once, in
 * file order. A change event only means "look again": reading is driven by events, timed
 * follow-ups and a poll, and always reads from the persisted byte offset.
 */
export class Tailer {
  private readonly log: Logger;
  private readonly readers = new Map<string, InboxReader>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly sizes = new Map<string, number>();
  private readonly backoff = new Map<string, { delayMs: number; until: number }>();
  private readonly timers = new Set<TimerHandle>();
  private readonly clock: Clock;
  private watchers: FSWatcher[] = [];
  /** The native watcher of the inbox files: a file followed from now on is added to it. */
  private fileWatcher: FSWatcher | undefined;
  private pollTimer: TimerHandle | undefined;
  private checkpointTimer: TimerHandle | undefined;
  private readonly dirty = new Set<string>();
  private stopped = false;
  private memory = new Map<string, InboxMemory>();
  private decision: WatchDecision | undefined;

  private readonly handleBatch: EnvelopeBatchHandler;

  constructor(private readonly options: TailerOptions) {
    this.log = (options.logger ?? silentLogger()).child({ component: "mailbox.tailer" });
    this.clock = options.clock ?? systemClock;
    const handleBatch = options.handleBatch ?? (options.handler && oneByOne(options.handler));
    if (!handleBatch) throw internalError("a tailer needs a handler or handleBatch");
    this.handleBatch = handleBatch;
  }

  /** Counters for benchmarks and metrics. */
  stats(): { inboxes: number; bytesRead: number } {
    let bytesRead = 0;
    for (const reader of this.readers.values()) bytesRead += reader.bytesRead;
    return { inboxes: this.readers.size, bytesRead };
  }

  get watchMode(): WatchDecision | undefined {
    return this.decision;
  }

  async start(): Promise<void> {
    this.memory = await this.options.ledger.load();
    this.decision = await decideWatchMode(this.options.layout.root, this.options.watch ?? "auto");
    this.log.info({ watch: this.decision.mode, fsType: this.decision.fsType }, this.decision.reason);
    await this.scan(true);
    const pollMs =
      this.decision.mode === "poll" ? (this.options.pollMs ?? 1000) : (this.options.safetyPollMs ?? 2000);
    if (this.decision.mode === "native") await this.startWatcher();
    const poll = () => {
      this.pollTimer = this.clock.setTimeout(() => {
        void this.scan(false)
          .catch((error: unknown) => this.log.warn({ err: error }, "mailbox poll failed"))
          .finally(() => {
            if (!this.stopped) poll();
          });
      }, pollMs);
    };
    poll();
  }

  /**
   * Two watchers. The inbox files themselves are watched natively: a change event only
   * makes that file be read. New inbox files are found by a watcher that polls the folder
   * (its mtime, every `NEW_FILE_POLL_MS`): a native watch of the folder fires for every
   * write to every file in it, and chokidar answers each with a fresh listing of the folder
   * and a stat of each entry — lock files included — which cost more than the reading.
   */
  private async startWatcher(): Promise<void> {
    const dir = this.options.layout.messagesDir;
    const known = [...this.readers.keys()].map((name) => path.join(dir, name));
    const files = watch(known, {
      ignoreInitial: true,
      persistent: true,
      ignorePermissionErrors: true,
      atomic: false,
    });
    const folder = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      ignorePermissionErrors: true,
      atomic: false,
      usePolling: true,
      interval: NEW_FILE_POLL_MS,
      // Only inbox files not followed yet: the known ones have a native watch of their own.
      ignored: (file: string) => {
        const name = path.basename(file);
        return file !== dir && (!nodeOfInboxFile(name) || this.readers.has(name));
      },
    });
    const onFile = (file: string) => {
      const name = path.basename(file);
      if (!nodeOfInboxFile(name)) return;
      this.poke(name);
      for (const delay of FOLLOW_UP_MS) this.later(delay, () => this.poke(name));
    };
    files.on("change", onFile).on("add", onFile);
    folder.on("add", onFile);
    for (const watcher of [files, folder]) {
      watcher.on("error", (error) => this.log.warn({ err: error }, "file watcher error; the poll goes on"));
    }
    // A watcher given no paths yet never says "ready": wait only for those that have some.
    const starting = known.length > 0 ? [files, folder] : [folder];
    await Promise.all(starting.map((w) => new Promise<void>((resolve) => w.once("ready", () => resolve()))));
    this.watchers = [files, folder];
    this.fileWatcher = files;
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Lists the inboxes; reads those that are new or whose size changed. */
  private async scan(initial: boolean): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.options.layout.messagesDir);
    } catch (error) {
      this.log.warn({ err: error }, "cannot list the messages folder");
      return;
    }
    await Promise.all(
      names.map(async (name) => {
        if (!nodeOfInboxFile(name)) return;
        if (!this.readers.has(name)) await this.addReader(name, initial);
        const size = await fs.stat(path.join(this.options.layout.messagesDir, name)).then(
          (s) => s.size,
          () => undefined,
        );
        if (size === undefined) return;
        if (this.sizes.get(name) !== size) this.poke(name);
      }),
    );
  }

  private async addReader(name: string, initial: boolean): Promise<InboxReader> {
    const existing = this.readers.get(name);
    if (existing) return existing;
    const reader = new InboxReader(
      path.join(this.options.layout.messagesDir, name),
      name,
      nodeOfInboxFile(name)!,
      {
        maxLineBytes: this.options.maxLineBytes ?? 1024 * 1024,
      },
    );
    this.readers.set(name, reader);
    this.fileWatcher?.add(path.join(this.options.layout.messagesDir, name));
    const remembered = this.memory.get(name);
    if (remembered) {
      reader.restore(remembered.checkpoint, remembered.deliveredIds, remembered.deliveredEnd);
    } else if (initial && (this.options.startAt ?? "end") === "end") {
      // Files present at the first start: only what arrives from now on (`--replay` reads them whole).
      await reader.seekToEnd().catch(() => undefined);
      this.dirty.add(name);
    }
    return reader;
  }

  /** Reads a file now, or once more right after the read in progress. */
  poke(name: string, retry = false): void {
    if (this.stopped) return;
    const waiting = this.backoff.get(name);
    if (waiting && !retry && this.clock.now() < waiting.until) return;
    if (this.running.has(name)) {
      this.again.add(name);
      return;
    }
    const run = (async () => {
      try {
        do {
          this.again.delete(name);
          const reader = this.readers.get(name) ?? (await this.addReader(name, false));
          await this.read(reader);
        } while (this.again.has(name) && !this.stopped && !this.backoff.has(name));
      } finally {
        this.running.delete(name);
      }
    })();
    this.running.set(name, run);
  }

  private async read(reader: InboxReader): Promise<void> {
    const name = reader.inbox;
    try {
      const stat = await reader.readNew(this.sinkFor(reader));
      if (stat) this.sizes.set(name, stat.size);
      this.backoff.delete(name);
    } catch (error) {
      this.sizes.delete(name);
      const delayMs = Math.min(RETRY_MAX_MS, (this.backoff.get(name)?.delayMs ?? RETRY_FIRST_MS / 2) * 2);
      this.backoff.set(name, { delayMs, until: this.clock.now() + delayMs });
      this.log.error({ err: error, inbox: name, retryInMs: delayMs }, "reading the inbox failed; retrying");
      this.later(delayMs, () => this.poke(name, true));
    }
    // Chunks before a failure were delivered too: their offset is worth saving either way.
    this.dirty.add(name);
    this.scheduleCheckpoint();
  }

  /**
   * Hands envelopes to the handler once each: ids already delivered (a re-read after a
   * rotation or a crash) are skipped. What was delivered is recorded per chunk, and also
   * when the handler fails, so the retry starts after the last envelope it took.
   */
  private sinkFor(reader: InboxReader): ReadSink {
    const name = reader.inbox;
    let delivered: DeliveredEntry[] = [];
    let quarantined: QuarantineRecord[] = [];
    const flush = async () => {
      const entries = delivered;
      const records = quarantined;
      delivered = [];
      quarantined = [];
      for (const record of records) {
        this.log.warn(
          { inbox: record.file, offset: record.offset, reason: record.reason },
          "mailbox line quarantined",
        );
        await this.options.quarantine.put(record);
      }
      await this.options.ledger.recordDelivered(name, entries);
    };
    let lastEnd = 0;
    const done = (id: string, end: number) => {
      reader.recent.add(id);
      delivered.push({ id, end });
      lastEnd = end;
    };
    // The failed line and those after it are read again: what came before must not repeat.
    const failed = (error: unknown) => {
      reader.repeatBelow = Math.max(reader.repeatBelow, lastEnd);
      return flush().then(() => Promise.reject(error));
    };
    const deliver = async (batch: readonly TailedEnvelope[]): Promise<void> => {
      const fresh = batch.filter(
        ({ envelope, meta }) => !(meta.end <= reader.repeatBelow && reader.recent.has(envelope.id)),
      );
      if (fresh.length === 0) return;
      let handled = fresh.length;
      let failure: { cause: unknown } | undefined;
      try {
        await this.handleBatch(fresh);
      } catch (error) {
        const incomplete = unwrapIncomplete(error);
        handled = Math.min(incomplete.handled, fresh.length);
        failure = { cause: incomplete.cause };
      }
      for (let index = 0; index < handled; index++) done(fresh[index]!.envelope.id, fresh[index]!.meta.end);
      if (failure) return failed(failure.cause);
    };
    return {
      envelopes: deliver,
      quarantine: (record) => quarantined.push({ at: isoWithOffset(this.clock.now()), ...record }),
      committed: flush,
      rotated: async () => {
        this.log.info(
          { inbox: name },
          "inbox was rotated (shrank or replaced); reading it again from the start",
        );
        await this.options.ledger.recordRotation(name);
      },
    };
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer || this.stopped) return;
    this.checkpointTimer = this.clock.setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.saveCheckpoints().catch((error: unknown) =>
        this.log.warn({ err: error }, "saving cursors failed"),
      );
    }, this.options.checkpointDelayMs ?? 200);
  }

  private async saveCheckpoints(): Promise<void> {
    const names = [...this.dirty];
    this.dirty.clear();
    for (const name of names) {
      const reader = this.readers.get(name);
      if (reader) await this.options.ledger.saveCheckpoint(name, reader.checkpoint());
    }
  }

  /** Resolves once no read is in progress (after start: the first pass over every inbox is done). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Stops watching, lets the reads in progress finish, and saves the cursors. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearTimeout(this.pollTimer);
    this.clock.clearTimeout(this.checkpointTimer);
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.watchers.map((watcher) => watcher.close()));
    await Promise.allSettled([...this.running.values()]);
    await this.saveCheckpoints();
    await this.options.ledger.close();
    await this.options.quarantine.close?.();
  }
}
