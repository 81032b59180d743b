import { isClawbridgeError } from "../../core/index.js";
import type { SentMessage } from "../api.js";
import type { Deferred } from "./deferred.js";
import { deliver, type DeliveryOutcome } from "./deliver.js";
import { KeyPacer } from "./key-pacer.js";
import type { OutboundSendRequest, OutboundSendResult } from "./outbound-types.js";
import { queueClosedError, type QueueContext } from "./queue-context.js";
import type { PlannedMessage, SendPlan } from "./send-plan.js";

/** One accepted send, waiting in its chat's lane. */
export interface SendJob {
  request: OutboundSendRequest;
  uuid: string;
  /** Made at enqueue time, so a card that cannot be serialised fails the call, not the lane. */
  plan: SendPlan;
  result: Deferred<OutboundSendResult>;
}

/**
 * The sends of one chat, one at a time in enqueue order. A message starts only after the
 * one before it is posted or has failed for good, so Feishu cannot reorder them (two
 * requests in flight may land in either order) — a retry holds up the chat behind it,
 * which is the price of order. The chat's budget (`perChatQps` in any sliding second) is
 * this lane's alone, so chats never wait for each other except on the app-wide budget.
 */
export class SendLane {
  readonly jobs: SendJob[] = [];
  readonly pacer: KeyPacer;
  /** Used by the queue to forget idle lanes. */
  forgetTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    readonly chatId: string,
    private readonly context: QueueContext,
  ) {
    const { perChatQps, pacingMarginMs } = context.options.limits;
    this.pacer = new KeyPacer(`chat:${chatId}`, perChatQps, 1000 + pacingMarginMs, context.options.clock);
  }

  /** Nothing queued or being sent. */
  get idle(): boolean {
    return !this.running && this.jobs.length === 0;
  }

  /** Queues a send; `onIdle` is called when the lane has run dry. */
  enqueue(job: SendJob, onIdle: (lane: SendLane) => void): void {
    this.jobs.push(job);
    if (!this.running) void this.run(onIdle);
  }

  private async run(onIdle: (lane: SendLane) => void): Promise<void> {
    this.running = true;
    while (this.jobs.length > 0) {
      const job = this.jobs[0]!;
      let settle: () => void;
      try {
        settle = await this.process(job);
      } catch (error) {
        // Only a bug gets here; the job must still settle, and the chat must go on.
        settle = () => {
          this.context.counters.failed++;
          this.context.log.error(
            { chatId: this.chatId, uuid: job.uuid, err: error },
            "outbound send crashed",
          );
          job.result.reject(error);
        };
      }
      // Settle once the job has left the lane: a caller reading stats() on resolution sees it gone.
      this.jobs.shift();
      settle();
    }
    this.running = false;
    onIdle(this);
  }

  /** Sends the job (with its fallback if Feishu rejects the card); returns how to settle it. */
  private async process(job: SendJob): Promise<() => void> {
    const { options, counters, log } = this.context;
    const plan = job.plan;
    if (plan.note === "card-too-large") {
      log.warn(
        { chatId: this.chatId, uuid: job.uuid, limitBytes: options.limits.cardMaxBytes },
        "card over Feishu's size limit; sending its fallback text instead",
      );
    }
    let planned = plan.first;
    let outcome = await this.post(job, planned);
    if (
      !outcome.ok &&
      outcome.reason === "fatal" &&
      plan.ifCardRejected &&
      isClawbridgeError(outcome.error, "CB_FEISHU_REJECTED")
    ) {
      log.warn(
        {
          chatId: this.chatId,
          uuid: job.uuid,
          feishuCode: outcome.error.details.feishuCode,
          feishuMsg: outcome.error.details.feishuMsg,
        },
        "Feishu rejected the card; sending its fallback text instead",
      );
      planned = plan.ifCardRejected;
      outcome = await this.post(job, planned);
    }
    const sent = planned;
    const ended = outcome;
    if (ended.ok) {
      return () => {
        counters.sent++;
        if (sent.fellBackToText) counters.fallbacks++;
        if (sent.truncated) counters.truncated++;
        job.result.resolve(this.result(ended.value, sent));
      };
    }
    if (ended.reason === "fatal") {
      log.error(
        { chatId: this.chatId, uuid: sent.uuid, msgType: sent.msgType, err: ended.error },
        "Feishu send failed and cannot be retried; the message was not sent",
      );
    }
    return () => {
      counters.failed++;
      if (ended.reason !== "closed") return job.result.reject(ended.error);
      this.context.abandoned.count++;
      job.result.reject(queueClosedError(ended.lastError));
    };
  }

  private post(job: SendJob, planned: PlannedMessage): Promise<DeliveryOutcome<SentMessage>> {
    const { api } = this.context.options;
    const { replyTo, replyInThread } = job.request;
    return deliver(
      {
        what: replyTo ? "reply" : "send",
        bindings: { chatId: this.chatId, uuid: planned.uuid, msgType: planned.msgType, replyTo },
        pacer: this.pacer,
        call: () =>
          replyTo
            ? api.replyMessage({
                messageId: replyTo,
                msgType: planned.msgType,
                content: planned.content,
                uuid: planned.uuid,
                ...(replyInThread ? { replyInThread: true } : {}),
              })
            : api.sendMessage({
                chatId: this.chatId,
                msgType: planned.msgType,
                content: planned.content,
                uuid: planned.uuid,
              }),
      },
      this.context.env,
    );
  }

  private result(sent: SentMessage, planned: PlannedMessage): OutboundSendResult {
    return {
      ...sent,
      chatId: sent.chatId ?? this.chatId,
      uuid: planned.uuid,
      ...(planned.fellBackToText ? { fellBackToText: true } : {}),
      ...(planned.truncated ? { truncated: true } : {}),
    };
  }
}
