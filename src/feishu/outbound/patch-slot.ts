import type { CardJson } from "../types.js";
import { cardContent, noticeCard } from "./card-json.js";
import type { Deferred } from "./deferred.js";
import { deliver } from "./deliver.js";
import { KeyPacer } from "./key-pacer.js";
import type { OutboundPatchOptions } from "./outbound-types.js";
import { payloadBytes } from "./payload-bytes.js";
import { queueClosedError, type QueueContext } from "./queue-context.js";

/** The card a message should show next, and everyone waiting for it (or a newer one). */
interface PatchJob {
  card: CardJson;
  options: OutboundPatchOptions;
  waiters: Deferred<void>[];
}

/**
 * The live-card updates of one message. At most one patch is on the wire, patches start at
 * least `1000 / perMessagePatchQps` ms apart, and a card that is still waiting is simply
 * replaced by a newer one: the message only ever needs to show the newest state, and every
 * caller is satisfied once its card *or a newer one* is applied. The newest card is read at
 * the moment of each call — a retry after a 5xx sends the newest, never a stale one — so
 * the message converges on the last card however many updates arrive during a backoff.
 *
 * A card over `cardMaxBytes` is replaced by a minimal card with the truncation notice (same
 * schema, original header kept when small): the message then says where the full output
 * is, instead of freezing on an older state.
 */
export class PatchSlot {
  readonly pacer: KeyPacer;
  /** Used by the queue to forget idle slots. */
  forgetTimer: NodeJS.Timeout | undefined;
  private next: PatchJob | undefined;
  private current: PatchJob | undefined;
  private running = false;

  constructor(
    readonly messageId: string,
    private readonly context: QueueContext,
  ) {
    const { perMessagePatchQps, pacingMarginMs } = context.options.limits;
    // One start per interval, not a burst of `qps` per second: a live card should move smoothly.
    this.pacer = new KeyPacer(
      `message:${messageId}`,
      1,
      Math.ceil(1000 / perMessagePatchQps) + pacingMarginMs,
      context.options.clock,
    );
  }

  /** No card waiting or being applied. */
  get idle(): boolean {
    return !this.running && !this.next && !this.current;
  }

  /** Cards not yet applied: 0, 1 or 2 (one on the wire, one waiting). */
  get pending(): number {
    return (this.current ? 1 : 0) + (this.next ? 1 : 0);
  }

  /** Asks for `card`; `waiter` settles when it or a newer card is applied (or fails). */
  add(
    card: CardJson,
    options: OutboundPatchOptions,
    waiter: Deferred<void>,
    onIdle: (slot: PatchSlot) => void,
  ): void {
    if (this.next) {
      this.next.waiters.push(waiter);
      this.replace(this.next, card, options);
    } else {
      this.next = { card, options, waiters: [waiter] };
    }
    if (!this.running) void this.run(onIdle);
  }

  private async run(onIdle: (slot: PatchSlot) => void): Promise<void> {
    this.running = true;
    while (this.next) {
      const job = this.next;
      this.next = undefined;
      this.current = job;
      let settle: () => void;
      try {
        settle = await this.apply(job);
      } catch (error) {
        // Only a bug gets here; the callers must still hear about it.
        settle = () => {
          this.context.counters.failed++;
          this.context.log.error({ messageId: this.messageId, err: error }, "outbound patch crashed");
          for (const waiter of job.waiters) waiter.reject(error);
        };
      }
      // Settle once the job is done here: a caller reading stats() on resolution sees it gone.
      this.current = undefined;
      settle();
    }
    this.running = false;
    onIdle(this);
  }

  /** Applies the job's card (or a newer one); returns how to settle its callers. */
  private async apply(job: PatchJob): Promise<() => void> {
    const { options, counters, log, env } = this.context;
    let truncated = false;
    let dropped = false;
    const outcome = await deliver(
      {
        what: "patch",
        bindings: { messageId: this.messageId, chatId: job.options.chatId },
        pacer: this.pacer,
        call: () => {
          this.absorbNext(job);
          if (!job.options.final && job.options.stillCurrent?.() === false) {
            dropped = true;
            return Promise.resolve(undefined as Awaited<ReturnType<typeof options.api.patchMessage>>);
          }
          const encoded = this.encode(job);
          truncated = encoded.truncated;
          return options.api.patchMessage({ messageId: this.messageId, content: encoded.content });
        },
      },
      env,
    );
    if (dropped) {
      log.debug({ messageId: this.messageId }, "a live card's update dropped: whoever asked has stopped");
      return () => {
        for (const waiter of job.waiters) waiter.resolve();
      };
    }
    if (outcome.ok) {
      if (job.options.final) log.debug({ messageId: this.messageId }, "live card reached its final state");
      return () => {
        counters.patched++;
        if (truncated) counters.truncated++;
        for (const waiter of job.waiters) waiter.resolve();
      };
    }
    if (outcome.reason === "fatal") {
      log.error(
        {
          messageId: this.messageId,
          chatId: job.options.chatId,
          final: job.options.final,
          err: outcome.error,
        },
        "Feishu card update failed and cannot be retried; the message keeps its previous card",
      );
    }
    return () => {
      counters.failed++;
      if (outcome.reason !== "closed") {
        for (const waiter of job.waiters) waiter.reject(outcome.error);
        return;
      }
      this.context.abandoned.count += job.waiters.length;
      for (const waiter of job.waiters) waiter.reject(queueClosedError(outcome.lastError));
    };
  }

  // A card that arrived while this one waited for its slot or its retry supersedes it.
  private absorbNext(job: PatchJob): void {
    const next = this.next;
    if (!next) return;
    this.next = undefined;
    job.waiters.push(...next.waiters);
    this.replace(job, next.card, next.options);
  }

  private replace(job: PatchJob, card: CardJson, options: OutboundPatchOptions): void {
    job.card = card;
    // `final` sticks: a final card followed by a correction is still the end of the stream.
    job.options = {
      ...job.options,
      ...definedOnly(options),
      final: Boolean(job.options.final || options.final),
    };
    this.context.counters.coalesced++;
  }

  private encode(job: PatchJob): { content: string; truncated: boolean } {
    const { limits, truncationNotice } = this.context.options;
    const content = cardContent(job.card);
    if (payloadBytes(content) <= limits.cardMaxBytes) return { content, truncated: false };
    this.context.log.warn(
      { messageId: this.messageId, chatId: job.options.chatId, limitBytes: limits.cardMaxBytes },
      "card update over Feishu's size limit; showing the truncation notice instead",
    );
    const notice = truncationNotice(job.options.fullOutputRef);
    return { content: JSON.stringify(noticeCard(job.card, notice, limits.cardMaxBytes)), truncated: true };
  }
}

function definedOnly(options: OutboundPatchOptions): OutboundPatchOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}
