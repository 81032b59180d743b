import {
  ClawbridgeError,
  envelopeSchema,
  isoWithOffset,
  newId,
  silentLogger,
  systemClock,
  type Clock,
  type Envelope,
  type EnvelopeInput,
  type Locale,
  type Logger,
} from "../core/index.js";
import { appendLines } from "./appender.js";
import { inboxContainsId } from "./inbox-contains.js";
import { mailboxMessages } from "./messages.js";
import type { LockOptions } from "./file-lock.js";
import { FileTailLedger } from "./file-tail-ledger.js";
import { assertNodeName, ensureLayout, inboxPath, mailboxLayout, type MailboxLayout } from "./layout.js";
import { CallbackQuarantine, FileQuarantine, type QuarantineSink } from "./quarantine.js";
import { readStatuses, writeOwnStatus, type NodeStatusSnapshot } from "./status.js";
import type { TailLedger } from "./tail-ledger.js";
import { Tailer } from "./tailer.js";
import type { EnvelopeBatchHandler, EnvelopeHandler } from "./envelope-batch.js";
import { updateTaskBoard, type TaskBoardEntry } from "./task-board.js";
import type { WatchSetting } from "./watch-mode.js";

/** An envelope to write: `id` and `timestamp` are filled in when missing. */
export type NewEnvelope = Omit<EnvelopeInput, "id" | "timestamp"> & { id?: string; timestamp?: string };

export interface MailboxOptions {
  root: string;
  /** The bridge's own node name (`mailbox.self`). */
  self: string;
  /** Where cursors, the delivered log and the quarantine live (`state.dir`). */
  stateDir: string;
  watch?: WatchSetting;
  pollMs?: number;
  maxLineBytes?: number;
  lockStaleMs?: number;
  logger?: Logger;
  clock?: Clock;
  locale?: Locale;
}

export interface TailRequest {
  /** Takes envelopes one at a time; or give `handleBatch`. */
  handler?: EnvelopeHandler;
  /** Takes a read chunk's envelopes at once; or give `handler`. */
  handleBatch?: EnvelopeBatchHandler;
  startAt?: "start" | "end";
  /** Defaults to the persisted ledger in `state.dir`; viewers pass a `MemoryTailLedger`. */
  ledger?: TailLedger;
  /** Defaults to `state.dir/quarantine.jsonl`. */
  quarantine?: QuarantineSink;
  safetyPollMs?: number;
}

/** The shared-folder protocol behind one interface (a Redis Streams store can sit behind it later). */
export interface MailboxStore {
  readonly layout: MailboxLayout;
  readonly self: string;
  ensureLayout(): Promise<void>;
  /** Appends one envelope to `to-<envelope.to>.jsonl`; returns it as written. */
  append(envelope: NewEnvelope): Promise<Envelope>;
  /**
   * Appends several envelopes, one locked write per inbox (in order within each), and
   * returns them as written. All are checked before anything is written.
   */
  appendMany(envelopes: readonly NewEnvelope[]): Promise<Envelope[]>;
  /**
   * Whether `to-<node>.jsonl` already holds a line with this id near its end: an append
   * replayed after a crash looks for itself before writing again.
   */
  containsRecentId(node: string, id: string): Promise<boolean>;
  /** Follows every inbox; resolves once the tailer runs. */
  tail(request: TailRequest): Promise<Tailer>;
  writeStatus(status: Record<string, unknown>): Promise<void>;
  readStatuses(): Promise<NodeStatusSnapshot[]>;
  updateTaskBoard(entries: readonly TaskBoardEntry[]): Promise<void>;
}

export class FsMailboxStore implements MailboxStore {
  readonly layout: MailboxLayout;
  readonly self: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly lock: LockOptions;
  private layoutReady: Promise<void> | undefined;

  constructor(private readonly options: MailboxOptions) {
    assertNodeName(options.self, "mailbox.self");
    this.layout = mailboxLayout(options.root);
    this.self = options.self;
    this.log = (options.logger ?? silentLogger()).child({ component: "mailbox" });
    this.clock = options.clock ?? systemClock;
    this.lock = { staleMs: options.lockStaleMs ?? 10_000, logger: this.log };
  }

  ensureLayout(): Promise<void> {
    this.layoutReady ??= ensureLayout(this.layout).catch((error: unknown) => {
      this.layoutReady = undefined;
      throw error;
    });
    return this.layoutReady;
  }

  async append(input: NewEnvelope): Promise<Envelope> {
    const [envelope] = await this.appendMany([input]);
    return envelope!;
  }

  async appendMany(inputs: readonly NewEnvelope[]): Promise<Envelope[]> {
    const envelopes = inputs.map((input) => this.complete(input));
    if (envelopes.length === 0) return [];
    await this.ensureLayout();
    const byInbox = new Map<string, { lines: string[]; ids: string[] }>();
    for (const envelope of envelopes) {
      let inbox = byInbox.get(envelope.to);
      if (!inbox) byInbox.set(envelope.to, (inbox = { lines: [], ids: [] }));
      inbox.lines.push(JSON.stringify(envelope));
      inbox.ids.push(envelope.id);
    }
    // Each line's id goes along: one the inbox holds already (written by a writer that also
    // believed it owned this append) is left out under the inbox's lock.
    await Promise.all(
      [...byInbox].map(([node, { lines, ids }]) =>
        appendLines(inboxPath(this.layout, node), lines, this.lock, ids),
      ),
    );
    this.log.debug({ count: envelopes.length, inboxes: byInbox.size }, "envelopes appended");
    return envelopes;
  }

  containsRecentId(node: string, id: string): Promise<boolean> {
    return inboxContainsId(this.layout, node, id);
  }

  /** Fills in id and timestamp and validates: a bad envelope fails before anything is written. */
  private complete(input: NewEnvelope): Envelope {
    const now = this.clock.now();
    const candidate = {
      ...input,
      id: input.id ?? newId(now),
      timestamp: input.timestamp ?? isoWithOffset(now),
    };
    const parsed = envelopeSchema.safeParse(candidate);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "envelope"}: ${i.message}`);
      throw new ClawbridgeError(
        "CB_MAILBOX_INVALID_ENVELOPE",
        mailboxMessages.text("invalidEnvelope", { problems: problems.join("; ") }),
        { fix: mailboxMessages.text("invalidEnvelopeFix"), expose: true, details: { problems } },
      );
    }
    const envelope = parsed.data as Envelope;
    assertNodeName(envelope.to, "to");
    return envelope;
  }

  async tail(request: TailRequest): Promise<Tailer> {
    await this.ensureLayout();
    // Every sink but the `tail` command's ends in state.dir/quarantine.jsonl (the bridge's wraps
    // it to count lines): one a newer release wrote is refused now, not at the first bad line.
    if (!(request.quarantine instanceof CallbackQuarantine)) {
      await FileQuarantine.assertFormat(this.options.stateDir);
    }
    const tailer = new Tailer({
      layout: this.layout,
      ledger: request.ledger ?? new FileTailLedger(this.options.stateDir, { logger: this.options.logger }),
      quarantine:
        request.quarantine ?? new FileQuarantine(this.options.stateDir, undefined, this.options.logger),
      handler: request.handler,
      handleBatch: request.handleBatch,
      logger: this.options.logger,
      watch: this.options.watch,
      pollMs: this.options.pollMs,
      // Native mode re-checks now and then too: change events are hints, not a guarantee.
      safetyPollMs: request.safetyPollMs ?? Math.max(2_000, this.options.pollMs ?? 1_000),
      maxLineBytes: this.options.maxLineBytes,
      startAt: request.startAt,
      clock: this.clock,
    });
    await tailer.start();
    return tailer;
  }

  async writeStatus(status: Record<string, unknown>): Promise<void> {
    await this.ensureLayout();
    await writeOwnStatus(this.layout, this.self, {
      node: this.self,
      ...status,
      updatedAt: isoWithOffset(this.clock.now()),
    });
  }

  readStatuses(): Promise<NodeStatusSnapshot[]> {
    return readStatuses(this.layout);
  }

  async updateTaskBoard(entries: readonly TaskBoardEntry[]): Promise<void> {
    await this.ensureLayout();
    await updateTaskBoard(this.layout, entries, this.lock, this.options.locale);
  }
}
