import {
  backoffDelay,
  ClawbridgeError,
  sleep,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import type { EventDedupPort } from "./event-dedup.js";
import { IntakeJournal } from "./intake-journal.js";
import type { FeishuConfig } from "../config/index.js";
import { BotDirectory, type NodeBot } from "./bot-directory.js";
import { emptyIntakeStats, FeishuIntake, type IntakeStats } from "./intake.js";
import { LongConnection, type LongConnectionState } from "./long-connection.js";
import { feishuMessages } from "./messages.js";
import {
  OutboundQueue,
  type OutboundLimits,
  type OutboundStats,
  type SharedLimits,
} from "./outbound/index.js";
import { SdkFeishuApi } from "./sdk-api.js";
import type { BotInfo, FeishuHandlers } from "./types.js";
import { webhookRoutes, type WebhookRoutes } from "./webhook/index.js";

export interface FeishuAdapterOptions {
  config: FeishuConfig;
  stateDir: string;
  logger: Logger;
  /** The nodes' own bots (`nodes[].bot`), to recognise them in mentions. */
  nodeBots?: readonly NodeBot[];
  /** Overrides of the outbound pacing (load tests relax them with the emulator's). */
  limits?: Partial<OutboundLimits>;
  /** Rate budgets shared with the other replicas (cluster mode: cluster/'s `SharedRateLimiter`). */
  sharedLimits?: SharedLimits;
  /** Per Feishu request; default 10 s. */
  timeoutMs?: number;
  /** Webhook body cap; default 1 MiB. */
  maxBodyBytes?: number;
  /** How long `start` waits for the long connection before going on (the SDK keeps trying). */
  readyTimeoutMs?: number;
  /**
   * The event dedup; default the file one in `stateDir`. Replicas share one in Redis: each
   * may receive any event (long connection: one random client of the app; webhooks: any).
   */
  dedup?: EventDedupPort;
  clock?: Clock;
}

/** Events can arrive: the long connection is up, or webhook mode (Feishu calls in). */
export function intakeUp(health: Pick<FeishuHealth, "intake">): boolean {
  return health.intake === "connected" || health.intake === "webhook";
}

export interface FeishuHealth {
  mode: FeishuConfig["mode"];
  bot?: BotInfo;
  /** Long connection state; "webhook" in webhook mode. */
  intake: LongConnectionState | "webhook";
  intakeStats: IntakeStats;
  outbound: OutboundStats;
  /** Times the long connection was lost (0 in webhook mode). */
  intakeReconnects: number;
  /** Webhook requests refused, by reason code (empty with the long connection). */
  webhookRejected: Record<string, number>;
}

/** A journaled webhook event whose handler fails is tried this often (2 s, 8 s, 32 s, 128 s apart). */
const JOURNALED_ATTEMPTS = 5;
const JOURNALED_BACKOFF = { baseMs: 2_000, maxMs: 128_000, factor: 4, jitter: 0 };

/** Bot info is needed before the first event can be understood; retried a few times at start. */
const BOT_INFO_ATTEMPTS = 4;

/**
 * The Feishu edge assembled: SDK client, outbound queue, intake (long connection or
 * webhook), bot identities. `start(handlers)` learns the bridge bot's identity (so its own
 * messages and @mentions are recognised), then opens the intake; in webhook mode the koa
 * routes come from `webhook()` and are mounted by the HTTP listener.
 */
export class FeishuAdapter {
  readonly api: SdkFeishuApi;
  readonly outbound: OutboundQueue;
  readonly bots: BotDirectory;
  private readonly log: Logger;
  private intake?: FeishuIntake;
  private connection?: LongConnection;
  private routes?: WebhookRoutes;
  private journal?: IntakeJournal;
  private botInfo?: BotInfo;
  private stopping = false;
  private readonly clock: Clock;
  private readonly replaying = new Set<Promise<void>>();
  private readonly retryTimers = new Set<TimerHandle>();

  constructor(private readonly options: FeishuAdapterOptions) {
    const { config } = options;
    this.log = options.logger.child({ component: "feishu" });
    this.clock = options.clock ?? systemClock;
    this.api = new SdkFeishuApi({
      appId: config.appId,
      appSecret: config.appSecret,
      domain: config.domain,
      logger: options.logger,
      timeoutMs: options.timeoutMs,
      clock: options.clock,
    });
    const t = feishuMessages.t(config.locale);
    this.outbound = new OutboundQueue({
      api: this.api,
      logger: options.logger,
      clock: options.clock,
      limits: options.limits,
      sharedLimits: options.sharedLimits,
      truncationNotice: (pointer) => (pointer ? t("truncatedWithPointer", { pointer }) : t("truncated")),
    });
    this.bots = new BotDirectory(options.nodeBots ?? []);
  }

  /** The bridge bot, once `start` has learnt it. */
  get bot(): BotInfo | undefined {
    return this.botInfo;
  }

  /**
   * Learns who the bridge's bot is (`start` does it too when not done yet). Called before
   * anything sends: after a restart the task cards' patches fill the app's call budget, and
   * this call, which goes around the outbound queue, would then meet Feishu's 99991400.
   */
  async identify(): Promise<BotInfo> {
    if (this.botInfo) return this.botInfo;
    this.botInfo = await this.learnBotInfo();
    this.log.info(
      { bot: this.botInfo.name, openId: this.botInfo.openId, mode: this.options.config.mode },
      "Feishu bot identified",
    );
    return this.botInfo;
  }

  async start(handlers: FeishuHandlers): Promise<void> {
    const { config } = this.options;
    await this.identify();
    if (config.chats.length === 0) {
      this.log.warn("feishu.chats is empty: every group the bot is in is served");
    }
    this.intake = new FeishuIntake({
      stateDir: this.options.stateDir,
      logger: this.options.logger,
      handlers,
      chats: config.chats,
      locale: config.locale,
      clock: this.options.clock,
      dedup: this.options.dedup,
      ackBudget: config.mode === "websocket",
      bridgeOpenId: () => this.botInfo?.openId,
      messageLink: (chatId) => chatLink(config.domain, chatId),
    });
    await this.intake.load();
    if (config.mode === "websocket") {
      this.connection = new LongConnection({
        appId: config.appId,
        appSecret: config.appSecret,
        domain: config.domain,
        logger: this.options.logger,
        dispatcher: this.intake.dispatcher,
        readyTimeoutMs: this.options.readyTimeoutMs,
      });
      await this.connection.start();
    } else {
      const intake = this.intake;
      const journal = new IntakeJournal(this.options.stateDir, {
        logger: this.options.logger,
        clock: this.options.clock,
      });
      this.journal = journal;
      const left = await journal.load();
      this.routes = webhookRoutes({
        encryptKey: config.encryptKey,
        verificationToken: config.verificationToken,
        maxBodyBytes: this.options.maxBodyBytes,
        logger: this.options.logger,
        clock: this.options.clock,
        // Durable before the 200: a crash after it must not lose the event (Feishu never resends it).
        persist: (payload, meta) => journal.received(payload, meta.eventId),
        onEvent: (payload, meta) => this.handleJournaled(IntakeJournal.keyOf(payload, meta.eventId), payload),
        onCardAction: (payload) => intake.dispatchCardAction(payload),
      });
      if (left.length > 0) {
        this.log.info({ events: left.length }, "handling webhook events received before the last stop");
        for (const event of left) void this.handleJournaled(event.key, event.payload);
      }
    }
  }

  /** Koa middleware serving `POST /feishu/events` and `POST /feishu/cards` (webhook mode). */
  webhook(): ReturnType<WebhookRoutes["middleware"]> {
    if (!this.routes) {
      throw new ClawbridgeError("CB_USAGE", feishuMessages.text("webhookRoutesUnavailable"));
    }
    return this.routes.middleware();
  }

  health(): FeishuHealth {
    return {
      mode: this.options.config.mode,
      ...(this.botInfo ? { bot: this.botInfo } : {}),
      intake: this.connection?.state ?? (this.routes ? "webhook" : "idle"),
      intakeStats: this.intake?.stats() ?? emptyIntakeStats(),
      outbound: this.outbound.stats(),
      intakeReconnects: this.connection?.reconnects ?? 0,
      webhookRejected: this.routes?.rejections() ?? {},
    };
  }

  /** Stops taking events, lets running handlers finish, then drains the outbound queue. */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    const drainMs = options.drainMs ?? 5_000;
    this.stopping = true;
    this.connection?.close();
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    await this.routes?.drain(drainMs);
    await Promise.allSettled([...this.replaying]);
    await this.intake?.drain();
    // Events still not handled stay in the journal for the next start.
    await this.journal?.close();
    await this.outbound.close({ drainMs });
  }

  /**
   * Handles a journaled webhook event and marks it done. A failure is tried again later (the
   * relay's state folder may be full or briefly unwritable); after `JOURNALED_ATTEMPTS` the
   * event is given up, with an error in the log, so that one bad event is not replayed at
   * every start. The event dedup keeps a redelivered one from being handled twice.
   */
  private async handleJournaled(key: string, payload: Record<string, unknown>, attempt = 1): Promise<void> {
    if (this.stopping) return;
    const run = (async () => {
      try {
        await this.intake!.dispatch(payload);
      } catch (error) {
        if (attempt < JOURNALED_ATTEMPTS && !this.stopping) {
          const delayMs = backoffDelay(attempt - 1, JOURNALED_BACKOFF);
          this.log.warn(
            { err: error, key, attempt, retryInMs: delayMs },
            "webhook event failed; will try again",
          );
          const timer = this.clock.setTimeout(() => {
            this.retryTimers.delete(timer);
            void this.handleJournaled(key, payload, attempt + 1);
          }, delayMs);
          timer.unref();
          this.retryTimers.add(timer);
          return;
        }
        if (this.stopping) return;
        this.log.error({ err: error, key, attempts: attempt }, "webhook event failed for good; given up");
      }
      this.journal?.handled(key);
    })();
    this.replaying.add(run);
    await run.finally(() => this.replaying.delete(run));
  }

  private async learnBotInfo(): Promise<BotInfo> {
    let last: unknown;
    for (let attempt = 1; attempt <= BOT_INFO_ATTEMPTS; attempt++) {
      try {
        return await this.api.botInfo({ fresh: true });
      } catch (error) {
        last = error;
        if (error instanceof ClawbridgeError && !error.retryable) break;
        await sleep(this.clock, 250 * 2 ** attempt);
      }
    }
    throw last;
  }
}

/** A link that opens the group in the Feishu/Lark client (placeholders for images and files). */
export function chatLink(domain: string, chatId: string): string {
  const host = domain === "lark" ? "applink.larksuite.com" : "applink.feishu.cn";
  return `https://${host}/client/chat/open?openChatId=${encodeURIComponent(chatId)}`;
}
