import { lark, type Lark } from "./lark.js";
import { feishuMessages } from "./messages.js";
import { ClawbridgeError, type Logger } from "../core/index.js";
import { larkDomain } from "./sdk-api.js";
import { sdkLogger } from "./sdk-logger.js";

/** What `WSClient.start` accepts; it silently refuses anything else, so we check first. */
export const LONG_CONNECTION_APP_ID = /^cli_[0-9a-fA-F]{16}$/;

/**
 * After each of its pings the SDK waits this long (seconds) for any frame back before it
 * calls the link dead and reconnects. Without it (the SDK's default) a half-open link — a
 * NAT that forgot us, a laptop waking from sleep — stays "connected" while no event
 * arrives, until the process restarts. Feishu answers a ping at once; 10 s leaves room
 * for several TCP retransmits. With Feishu's ping every 120 s a dead link is found within
 * about 130 s, and the events Feishu could not deliver meanwhile are delivered again.
 */
export const PING_TIMEOUT_SEC = 10;

export type LongConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "failed" | "closed";

export interface LongConnectionOptions {
  appId: string;
  appSecret: string;
  domain: string;
  logger: Logger;
  dispatcher: Lark.EventDispatcher;
  /** How long `start` waits for the first connection before resolving anyway (the SDK keeps trying). */
  readyTimeoutMs?: number;
}

/**
 * Event intake over Feishu's long connection: the SDK's `WSClient` (endpoint discovery,
 * pbbp2 frames, ping/pong, multi-part payloads, acks, reconnects) feeding our dispatcher.
 * No public URL is needed.
 */
export class LongConnection {
  private client?: Lark.WSClient;
  private current: LongConnectionState = "idle";
  private lastError?: string;
  private lost = 0;

  constructor(private readonly options: LongConnectionOptions) {}

  get state(): LongConnectionState {
    return this.current;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  /** Times the connection was lost after it had been up (for the metrics). */
  get reconnects(): number {
    return this.lost;
  }

  /**
   * Connects. Resolves once connected (or after `readyTimeoutMs`, with the SDK still
   * retrying in the background); rejects when Feishu refuses the app for good.
   */
  start(): Promise<void> {
    const { appId, appSecret, domain, logger } = this.options;
    if (!LONG_CONNECTION_APP_ID.test(appId)) {
      return Promise.reject(
        new ClawbridgeError("CB_FEISHU_AUTH", feishuMessages.text("notAnAppId", { appId }), {
          fix: feishuMessages.text("notAnAppIdFix"),
          expose: true,
        }),
      );
    }
    const log = logger.child({ component: "feishu-ws" });
    this.current = "connecting";
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        log.warn("Feishu long connection not up yet; still trying in the background");
        settle();
      }, this.options.readyTimeoutMs ?? 15_000);
      this.client = new lark.WSClient({
        appId,
        appSecret,
        domain: larkDomain(domain),
        logger: sdkLogger(logger),
        loggerLevel: lark.LoggerLevel.debug,
        autoReconnect: true,
        handshakeTimeoutMs: 10_000,
        wsConfig: { pingTimeout: PING_TIMEOUT_SEC },
        onReady: () => {
          this.current = "connected";
          log.info("Feishu long connection up");
          settle();
        },
        onReconnecting: () => {
          this.lost += 1;
          this.current = "reconnecting";
          log.warn("Feishu long connection lost; reconnecting");
        },
        onReconnected: () => {
          this.current = "connected";
          log.info("Feishu long connection back");
        },
        onError: (error: Error) => {
          this.current = "failed";
          this.lastError = error.message;
          const refused = new ClawbridgeError(
            "CB_FEISHU_AUTH",
            feishuMessages.text("longConnectionRefused", { reason: error.message }),
            { fix: feishuMessages.text("longConnectionRefusedFix"), cause: error },
          );
          log.error({ err: refused }, "Feishu long connection failed");
          settle(refused);
        },
      });
      void this.client.start({ eventDispatcher: this.options.dispatcher });
    });
  }

  close(): void {
    this.client?.close({ force: true });
    this.client = undefined;
    this.current = "closed";
  }
}
