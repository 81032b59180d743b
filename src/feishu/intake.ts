import { lark, type Lark } from "./lark.js";
import {
  ClawbridgeError,
  DEFAULT_LOCALE,
  systemClock,
  type Clock,
  type Locale,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import { EventDedup, type DedupKey, type EventDedupPort } from "./event-dedup.js";
import {
  normalizeCardAction,
  normalizeMessageEvent,
  UnreadableEvent,
  type NormalizeContext,
} from "./normalize.js";
import { feishuMessages } from "./messages.js";
import { sdkLogger } from "./sdk-logger.js";
import { toFeishuCardAnswer } from "./webhook/card-answer.js";
import type { CardActionAnswer, FeishuHandlers, InboundChatMessage } from "./types.js";

/** Feishu waits 3 s for an answer; past this a slow handler goes on without holding the ack. */
export const HANDLER_ACK_BUDGET_MS = 2_500;

export interface IntakeOptions {
  stateDir: string;
  logger: Logger;
  handlers: FeishuHandlers;
  /** Chats served; empty = all. */
  chats: readonly string[];
  /** The bridge bot's open_id: its own messages are dropped and its mentions recognised. */
  bridgeOpenId: () => string | undefined;
  messageLink?: NormalizeContext["messageLink"];
  /** Language of the toasts the intake itself answers with. */
  locale?: Locale;
  /** Duplicate window for sender + chat + text (ms); for the default dedup only. */
  contentWindowMs?: number;
  /**
   * Where claims and handled ids live; default an `EventDedup` in `stateDir`. Replicas pass
   * one shared in Redis: any of them may receive a given event.
   */
  dedup?: EventDedupPort;
  /**
   * Answer Feishu within its 3 s even when a handler is slow (the long connection). False
   * in webhook mode, where the 200 went out before the event was handled: wait for the end.
   */
  ackBudget?: boolean;
  clock?: Clock;
}

export interface IntakeStats {
  received: number;
  handled: number;
  duplicates: number;
  ignored: number;
  unreadable: number;
  failed: number;
  cardActions: number;
}

export function emptyIntakeStats(): IntakeStats {
  return { received: 0, handled: 0, duplicates: 0, ignored: 0, unreadable: 0, failed: 0, cardActions: 0 };
}

/** What Feishu expects back from a card callback (webhook body or long-connection ack data). */
export interface FeishuCardAnswer {
  toast?: { type: string; content: string };
  card?: { type: "raw"; data: Record<string, unknown> };
}

/**
 * Everything between "an event arrived" (long connection or webhook) and the handlers:
 * the SDK's `EventDispatcher` (which flattens schema 2.0 payloads), normalisation, the
 * bridge's own messages and unserved chats dropped, duplicates dropped, and a time budget
 * so Feishu gets its answer within 3 s even when a handler is slow.
 */
export class FeishuIntake {
  readonly dispatcher: Lark.EventDispatcher;
  readonly dedup: EventDedupPort;
  private readonly log: Logger;
  private readonly counters: IntakeStats = emptyIntakeStats();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly clock: Clock;

  constructor(private readonly options: IntakeOptions) {
    this.log = options.logger.child({ component: "feishu-intake" });
    this.clock = options.clock ?? systemClock;
    this.dedup =
      options.dedup ??
      new EventDedup(options.stateDir, {
        windowMs: options.contentWindowMs,
        clock: this.clock,
        logger: options.logger,
      });
    this.dispatcher = new lark.EventDispatcher({
      logger: sdkLogger(options.logger),
      loggerLevel: lark.LoggerLevel.debug,
    }).register({
      "im.message.receive_v1": (data: unknown) => this.onMessageEvent(data),
      "card.action.trigger": (data: unknown) => this.onCardActionEvent(data),
    } as Record<string, (data: unknown) => Promise<unknown>>);
  }

  load(): Promise<void> {
    return this.dedup.load();
  }

  /** A verified, decrypted webhook payload (schema 2.0 or v1), handed to the SDK dispatcher. */
  async dispatch(payload: Record<string, unknown>): Promise<unknown> {
    return this.dispatcher.invoke(payload, { needCheck: false });
  }

  /** The webhook card route's answer, in our terms. */
  async dispatchCardAction(payload: Record<string, unknown>): Promise<CardActionAnswer | undefined> {
    const answer = (await this.dispatch(payload)) as FeishuCardAnswer | string | undefined;
    if (typeof answer !== "object" || answer === null) return undefined;
    return {
      ...(answer.toast ? { toast: answer.toast as CardActionAnswer["toast"] } : {}),
      ...(answer.card ? { card: answer.card.data } : {}),
    };
  }

  stats(): IntakeStats {
    return { ...this.counters };
  }

  /** Waits for handlers still running past their ack budget (shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.dedup.close();
  }

  private async onMessageEvent(data: unknown): Promise<undefined> {
    this.counters.received++;
    let message: InboundChatMessage;
    try {
      message = normalizeMessageEvent(data, {
        bridgeOpenId: this.options.bridgeOpenId(),
        messageLink: this.options.messageLink,
        receivedAt: this.clock.now(),
      });
    } catch (error) {
      this.counters.unreadable++;
      this.log.warn(
        { err: error instanceof UnreadableEvent ? error.message : error },
        "unreadable message event dropped",
      );
      return undefined;
    }
    const bridge = this.options.bridgeOpenId();
    if (bridge && message.sender.openId === bridge) {
      this.counters.ignored++;
      return undefined;
    }
    if (this.options.chats.length > 0 && !this.options.chats.includes(message.chatId)) {
      this.counters.ignored++;
      this.log.debug({ chat: message.chatId }, "message from a chat not in feishu.chats ignored");
      return undefined;
    }
    const key: DedupKey = {
      eventId: message.eventId,
      messageId: message.messageId,
      content: { senderId: message.sender.openId, chatId: message.chatId, text: message.text },
    };
    const verdict = await this.dedup.claim(key);
    if (verdict !== "claimed") {
      this.counters.duplicates++;
      this.log.info(
        { eventId: message.eventId, messageId: message.messageId, verdict },
        "duplicate Feishu delivery dropped",
      );
      // Still being handled: not acknowledged yet, so Feishu's next retry finds it done (or redoes it).
      if (verdict === "inflight") {
        throw new ClawbridgeError("CB_INTAKE_BUSY", feishuMessages.text("eventInFlight"), {
          details: { eventId: message.eventId },
        });
      }
      return undefined;
    }
    await this.withinBudget(
      (async () => {
        try {
          await this.options.handlers.onMessage(message);
          this.counters.handled++;
          await this.dedup.commit(key);
        } catch (error) {
          this.counters.failed++;
          await this.release(key);
          this.log.error(
            { err: error, eventId: message.eventId },
            "message handler failed; Feishu's retry will be handled",
          );
          throw error;
        }
      })(),
      // A message is acknowledged only once it is safe: a slow handler means "retry later".
      { failWhenLate: true },
    );
    return undefined;
  }

  private async onCardActionEvent(data: unknown): Promise<Record<string, unknown> | undefined> {
    this.counters.received++;
    const handler = this.options.handlers.onCardAction;
    if (!handler) return undefined;
    let action;
    try {
      action = normalizeCardAction(data);
    } catch (error) {
      this.counters.unreadable++;
      this.log.warn(
        { err: error instanceof UnreadableEvent ? error.message : error },
        "unreadable card action dropped",
      );
      return undefined;
    }
    const key: DedupKey = { eventId: action.eventId };
    if ((await this.dedup.claim(key)) !== "claimed") {
      this.counters.duplicates++;
      return undefined;
    }
    this.counters.cardActions++;
    const run = (async () => {
      try {
        const answer = await handler(action);
        await this.dedup.commit(key);
        return answer;
      } catch (error) {
        await this.release(key);
        this.counters.failed++;
        this.log.error({ err: error, eventId: action.eventId }, "card action handler failed");
        const locale = this.options.locale ?? DEFAULT_LOCALE;
        const t = feishuMessages.t(locale);
        const content =
          error instanceof ClawbridgeError && error.expose
            ? t("cardActionFailed", { reason: error.render(locale).message })
            : t("cardActionFailedGeneric");
        return { toast: { type: "error", content } } satisfies CardActionAnswer;
      }
    })();
    const answer = await this.withinBudget(run);
    return answer ? toFeishuCardAnswer(answer) : undefined;
  }

  /**
   * Frees a failed event's claim. A store that cannot be reached just now is not a reason to
   * lose the handler's error: its claim expires on its own and Feishu's retry gets through.
   */
  private async release(key: DedupKey): Promise<void> {
    try {
      await this.dedup.release(key);
    } catch (error) {
      this.log.warn({ err: error, eventId: key.eventId }, "releasing a failed event's claim failed");
    }
  }

  /**
   * Resolves with the work's result, or with undefined once the ack budget is spent (the
   * work goes on, tracked for `drain`) — or, with `failWhenLate`, rejects then. A failure
   * within the budget is rethrown, so the long connection acks with 500 and Feishu redelivers.
   */
  private async withinBudget<T>(
    work: Promise<T>,
    options: { failWhenLate?: boolean } = {},
  ): Promise<T | undefined> {
    const tracked = work.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    if (this.options.ackBudget === false) return work;
    let timer: TimerHandle | undefined;
    const budget = new Promise<undefined>((resolve, reject) => {
      timer = this.clock.setTimeout(() => {
        if (options.failWhenLate) {
          this.log.warn(
            { budgetMs: HANDLER_ACK_BUDGET_MS },
            "handler still running; not acknowledged, Feishu retries",
          );
          reject(
            new ClawbridgeError("CB_INTAKE_BUSY", feishuMessages.text("handlerStillRunning"), {
              details: { budgetMs: HANDLER_ACK_BUDGET_MS },
            }),
          );
          return;
        }
        this.log.warn(
          { budgetMs: HANDLER_ACK_BUDGET_MS },
          "handler still running; Feishu answered, work goes on",
        );
        resolve(undefined);
      }, HANDLER_ACK_BUDGET_MS);
    });
    try {
      return await Promise.race([work, budget]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }
}
