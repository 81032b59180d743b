import Router from "@koa/router";
import type { Context, Middleware } from "koa";
import { silentLogger, systemClock, type Clock, type Logger, type TimerHandle } from "../../core/index.js";
import type { CardActionAnswer } from "../types.js";
import { DEFAULT_MAX_BODY_BYTES, readWebhookBody } from "./body.js";
import { isCardActionPayload, toFeishuCardAnswer } from "./card-answer.js";
import { InFlight } from "./in-flight.js";
import { verifyWebhookRequest, type WebhookEvent, type WebhookRejection } from "./verify.js";

/** Paths served by the webhook edge. */
export const FEISHU_EVENTS_PATH = "/feishu/events";
export const FEISHU_CARDS_PATH = "/feishu/cards";

/** Feishu gives a card callback 3 s; answering a little earlier leaves room for the network. */
export const DEFAULT_CARD_ANSWER_TIMEOUT_MS = 2_500;

/** What a handler learns about the request besides the payload. */
export interface WebhookMeta {
  eventId?: string;
  eventType?: string;
  /** ms since epoch, by the injected clock. */
  receivedAt: number;
  route: "events" | "cards";
}

export interface WebhookRoutesOptions {
  encryptKey?: string;
  verificationToken?: string;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  /** Allowed timestamp skew; default 5 minutes. */
  windowMs?: number;
  clock?: Clock;
  logger?: Logger;
  /**
   * Runs before the 200 goes out: makes the event durable (Feishu never sends an event again
   * once it got its 200). A failure answers 500, so Feishu retries.
   */
  persist?(payload: Record<string, unknown>, meta: WebhookMeta): Promise<unknown>;
  /** Runs after the 200 went out; its errors are logged, never answered (Feishu would retry). */
  onEvent(payload: Record<string, unknown>, meta: WebhookMeta): unknown;
  /** Answers a `card.action.trigger`; without it card actions go to `onEvent` like any event. */
  onCardAction?(
    payload: Record<string, unknown>,
    meta: WebhookMeta,
  ): CardActionAnswer | undefined | Promise<CardActionAnswer | undefined>;
  /** How long a card answer may wait for `onCardAction`; default 2.5 s. */
  cardAnswerTimeoutMs?: number;
}

/** The webhook edge: mount `middleware()` (or `router`) on a koa app; `drain()` at shutdown. */
export interface WebhookRoutes {
  router: Router;
  /** `router.routes()`. */
  middleware(): ReturnType<Router["routes"]>;
  /** Awaits handlers still running (optionally at most `timeoutMs`); true when all finished. */
  drain(timeoutMs?: number): Promise<boolean>;
  /** Handlers still running. */
  readonly inFlight: number;
  /** Requests refused since start, by reason code (for the metrics). */
  rejections(): Record<string, number>;
}

/**
 * `POST /feishu/events` and `POST /feishu/cards`: read the body under a cap, verify it
 * (signature, timestamp, token, decryption), then answer. Events are acknowledged with
 * `{"code":0}` at once and handled afterwards; card actions are answered with their result
 * if it comes within `cardAnswerTimeoutMs`. Both paths accept both kinds, because Feishu
 * can be configured to send events and callbacks to a single URL.
 */
export function webhookRoutes(options: WebhookRoutesOptions): WebhookRoutes {
  const log = (options.logger ?? silentLogger()).child({ component: "feishu-webhook" });
  const clock = options.clock ?? systemClock;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const cardTimeoutMs = options.cardAnswerTimeoutMs ?? DEFAULT_CARD_ANSWER_TIMEOUT_MS;
  const inFlight = new InFlight();
  const rejected = new Map<string, number>();

  const refuse = (ctx: Context, route: string, rejection: WebhookRejection) => {
    rejected.set(rejection.code, (rejected.get(rejection.code) ?? 0) + 1);
    // Never the body, headers or secrets: the code and who sent it are enough to diagnose.
    log.warn(
      {
        code: "CB_WEBHOOK_REJECTED",
        reason: rejection.code,
        status: rejection.status,
        remote: ctx.ip,
        route,
      },
      `webhook request refused: ${rejection.reason}`,
    );
    // An unread body (413 by Content-Length, or cut off at the cap) is not worth draining.
    if (rejection.status === 413) ctx.set("Connection", "close");
    ctx.status = rejection.status;
    ctx.body = { code: rejection.status, msg: rejection.reason };
  };

  const dispatchEvent = (verdict: WebhookEvent, meta: WebhookMeta) => {
    void inFlight
      .run(() => options.onEvent(verdict.payload, meta), { defer: true })
      .then((settled) => {
        if (!settled.ok) {
          log.error(
            { err: settled.error, eventId: meta.eventId, eventType: meta.eventType },
            "event handler failed",
          );
        }
      });
    return { code: 0 };
  };

  const answerCardAction = async (verdict: WebhookEvent, meta: WebhookMeta, onCardAction: CardHandler) => {
    const work = inFlight.run(() => onCardAction(verdict.payload, meta));
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<"timeout">(
      (resolve) => (timer = clock.setTimeout(() => resolve("timeout"), cardTimeoutMs)),
    );
    const outcome = await Promise.race([work, timedOut]);
    clock.clearTimeout(timer);
    const ids = { eventId: meta.eventId };
    if (outcome === "timeout") {
      log.warn(
        { ...ids, timeoutMs: cardTimeoutMs },
        "card action handler is slow; answered {} and let it finish",
      );
      void work.then((late) => {
        if (late.ok) log.info({ ...ids, ms: late.ms }, "slow card action handler finished");
        else log.error({ ...ids, err: late.error, ms: late.ms }, "slow card action handler failed");
      });
      return {};
    }
    if (!outcome.ok) {
      log.error({ ...ids, err: outcome.error }, "card action handler failed");
      return {};
    }
    return toFeishuCardAnswer(outcome.value);
  };

  const handle =
    (route: WebhookMeta["route"]): Middleware =>
    async (ctx) => {
      if (ctx.method !== "POST") {
        ctx.set("Allow", "POST");
        // Refused like any other request, so a misconfigured sender shows in the log and metrics.
        return refuse(ctx, route, {
          ok: false,
          status: 405,
          code: "method_not_allowed",
          reason: "method not allowed",
        });
      }
      const receivedAt = clock.now();
      const read = await readWebhookBody(ctx.req, maxBodyBytes);
      if (!read.ok) return refuse(ctx, route, read);
      const verdict = verifyWebhookRequest({
        rawBody: read.body,
        headers: ctx.req.headers,
        encryptKey: options.encryptKey,
        verificationToken: options.verificationToken,
        nowMs: receivedAt,
        windowMs: options.windowMs,
      });
      if (!verdict.ok) return refuse(ctx, route, verdict);
      if (verdict.kind === "challenge") {
        log.info({ route }, "answered Feishu's URL verification");
        ctx.body = { challenge: verdict.challenge };
        return;
      }
      const meta: WebhookMeta = { eventId: verdict.eventId, eventType: verdict.eventType, receivedAt, route };
      log.debug({ eventId: meta.eventId, eventType: meta.eventType, route }, "webhook push accepted");
      const onCardAction = options.onCardAction?.bind(options);
      if (onCardAction && isCardActionPayload(verdict.eventType)) {
        ctx.body = await answerCardAction(verdict, meta, onCardAction);
        return;
      }
      if (options.persist) {
        try {
          await options.persist(verdict.payload, meta);
        } catch (error) {
          log.error(
            { err: error, eventId: meta.eventId },
            "could not store the event; answered 500 so Feishu retries",
          );
          ctx.status = 500;
          ctx.body = { code: 500, msg: "event not stored" };
          return;
        }
      }
      ctx.body = dispatchEvent(verdict, meta);
    };

  // strict + sensitive: `/feishu/events/` or `/Feishu/events` are 404, not an alias.
  const router = new Router({ strict: true, sensitive: true });
  router.all(FEISHU_EVENTS_PATH, handle("events"));
  router.all(FEISHU_CARDS_PATH, handle("cards"));

  return {
    router,
    middleware: () => router.routes(),
    drain: (timeoutMs) => inFlight.drain(timeoutMs),
    rejections: () => Object.fromEntries(rejected),
    get inFlight() {
      return inFlight.size;
    },
  };
}

type CardHandler = NonNullable<WebhookRoutesOptions["onCardAction"]>;
