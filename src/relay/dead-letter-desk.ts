import { promises as fs } from "node:fs";
import type { Clock, JournalFactory, Locale, Logger, TimerHandle } from "../core/index.js";
import type { PostAction, RelayAction } from "./actions.js";
import { deadLetterReason, DeadLetters, pendingRetryRequests, type DeadLetter } from "./dead-letters.js";
import { storedItem, type OutboxItem } from "./outbox.js";
import type { OutboxStore } from "./outbox-store.js";
import { postUuid, type RelayContext } from "./relay-context.js";

export interface DeadLetterDeskOptions {
  stateDir: string;
  logger: Logger;
  clock: Clock;
  /** Language of the audit-chat notice (`feishu.locale`). */
  locale: Locale;
  ctx: RelayContext;
  /** The relay's outboxes by target (filled before `load`). */
  outboxes: ReadonlyMap<string, OutboxStore<RelayAction>>;
  /** Puts a post into the chat outbox (the relay's `execute`). */
  post: (action: PostAction) => Promise<void>;
  /** Something changed in a target's outbox: its loop looks again. */
  wake: (target: string) => void;
  /** The relay's items whose effects may already have happened (appends look before writing). */
  replayed: Set<string>;
  /** How often `clawbridge state retry` requests are looked for; default 2 s. */
  retryPollMs?: number;
  /** Where the dead letters are kept; default the file `state.dir/dead-letters.jsonl`. */
  journal?: JournalFactory;
}

/**
 * Everything about deliveries that failed for good: moving them from their outbox into the
 * dead letters (and saying so once in the audit chat), finishing what a crash interrupted,
 * and putting one back when `clawbridge state retry` asks.
 */
export class DeadLetterDesk {
  private readonly letters: DeadLetters;
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DeadLetterDeskOptions) {
    this.log = options.logger.child({ component: "relay.dead-letters" });
    this.letters = new DeadLetters({
      stateDir: options.stateDir,
      logger: options.logger,
      clock: options.clock,
      journal: options.journal,
    });
  }

  /** Loads the journal and finishes what a crash interrupted; the outboxes are loaded already. */
  async load(): Promise<void> {
    await this.letters.load();
    await this.reconcile();
  }

  list(): DeadLetter[] {
    return this.letters.list();
  }

  /**
   * A delivery that can never succeed: recorded as a dead letter first (durable), then taken
   * out of its outbox, so a crash in between is finished at the next start (`reconcile`);
   * then said once in the audit chat.
   */
  async giveUp(
    target: string,
    item: OutboxItem<RelayAction>,
    error: unknown,
    failures: number,
  ): Promise<void> {
    const outbox = this.options.outboxes.get(target)!;
    const { id } = item;
    const letter = await this.letters.add({
      id,
      target,
      item: storedItem(item),
      seq: outbox.seqOf(id) ?? outbox.seq,
      failures,
      reason: deadLetterReason(error),
    });
    await outbox.done(id);
    this.options.replayed.delete(id);
    this.log.error(
      { err: error, target, item: id, failures },
      "delivery failed for good; moved to the dead letters (clawbridge state dead-letters)",
    );
    await this.announce(letter).catch((announceError: unknown) =>
      this.log.warn({ err: announceError, item: id }, "could not announce the dead letter"),
    );
  }

  /** Carries out waiting retry requests now, then looks for new ones every `retryPollMs`. */
  async startRetries(): Promise<void> {
    await this.applyRetryRequests();
    this.schedule();
  }

  async stopRetries(): Promise<void> {
    this.stopped = true;
    this.options.clock.clearTimeout(this.timer);
    await this.polling;
  }

  close(): Promise<void> {
    return this.letters.close();
  }

  /** Once per dead letter, in the audit chat (through the chat outbox, with a uuid of its own). */
  private async announce(letter: DeadLetter): Promise<void> {
    const { ctx, locale } = this.options;
    const chatId = ctx.auditChat;
    const action = letter.item.payload as RelayAction;
    // A post to the audit chat that died must not announce itself there again (and again).
    if (!chatId || (action.kind === "post" && action.place.chatId === chatId)) return;
    const what =
      action.kind === "deliver"
        ? ctx.t("deadLetterWhatDeliver", {
            from: action.envelope.name ?? action.envelope.from,
            id: letter.id,
          })
        : ctx.t(action.kind === "append" ? "deadLetterWhatAppend" : "deadLetterWhatPost", { id: letter.id });
    const target =
      action.kind === "deliver"
        ? action.node
        : action.kind === "append"
          ? `to-${action.envelope.to}.jsonl`
          : action.place.chatId;
    const text = ctx.t("deadLetter", { what, target, reason: letter.reason.message[locale], id: letter.id });
    await this.options.post({ kind: "post", place: { chatId }, text, uuid: postUuid(letter.id, "dl") });
  }

  /**
   * A pending item that is also a dead letter was either dead-lettered but not yet taken
   * out (same `seq`: take it out now) or put back by a retry whose `retried` mark was not
   * written (a later `seq`: write it now).
   */
  private async reconcile(): Promise<void> {
    for (const letter of this.letters.list()) {
      const outbox = this.options.outboxes.get(letter.target);
      const seq = outbox?.seqOf(letter.id);
      if (!outbox || seq === undefined) continue;
      if (seq > letter.seq) {
        await this.letters.retried(letter.target, letter.id);
      } else {
        await outbox.done(letter.id);
        this.options.replayed.delete(letter.id);
      }
    }
  }

  /** `clawbridge state retry`: the dead letter goes back into its outbox, then is no longer dead. */
  private async applyRetryRequests(): Promise<void> {
    for (const { file, request } of await pendingRetryRequests(this.options.stateDir)) {
      const letter = this.letters.get(request.target, request.id);
      const outbox = this.options.outboxes.get(request.target);
      if (letter && outbox) {
        const item = letter.item as OutboxItem<RelayAction>;
        // A gateway remembers the failed run under its key: the new try gets a key of its own.
        const payload: RelayAction =
          item.payload.kind === "deliver"
            ? { ...item.payload, retries: (item.payload.retries ?? 0) + 1 }
            : item.payload;
        const result = await outbox.requeue({ ...item, payload, attempts: 0 });
        if (result === "overflow") {
          this.log.warn({ target: letter.target, id: letter.id }, "retry waits: the outbox is full");
          continue;
        }
        // Its effect may have happened before it died (an append written, then a failure).
        this.options.replayed.add(letter.id);
        await this.letters.retried(letter.target, letter.id);
        this.options.wake(letter.target);
        this.log.info({ target: letter.target, id: letter.id }, "dead letter put back into its outbox");
      } else {
        this.log.warn({ ...request }, "retry request for an unknown dead letter; ignored");
      }
      await fs.rm(file, { force: true });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.polling = this.applyRetryRequests()
        .catch((error: unknown) => this.log.warn({ err: error }, "could not apply retry requests"))
        .finally(() => this.schedule());
    }, this.options.retryPollMs ?? 2_000);
    this.timer.unref();
  }
}
