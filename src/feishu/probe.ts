import { feishuMessages } from "./messages.js";
import { lark } from "./lark.js";
import { ClawbridgeError, silentLogger, type Logger } from "../core/index.js";
import { classifyFeishuError } from "./feishu-errors.js";
import { LongConnection } from "./long-connection.js";
import { SdkFeishuApi } from "./sdk-api.js";
import type { BotInfo } from "./types.js";

export interface FeishuProbeInput {
  appId: string;
  appSecret: string;
  domain: string;
  mode: "websocket" | "webhook";
  chats: readonly string[];
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ClawbridgeError };

export interface FeishuProbe {
  credentials: Outcome<true>;
  /** Skipped (undefined) when the credentials failed. */
  bot?: Outcome<BotInfo>;
  /** Long connection accepted by Feishu (websocket mode only). */
  longConnection?: Outcome<true>;
  chats: { chatId: string; outcome: Outcome<{ name: string }> }[];
}

/** Feishu's bot `activate_status` for an enabled, published bot. */
export const BOT_ACTIVE = 2;

/**
 * What `doctor` checks of the Feishu app, through the same SDK calls the bridge makes:
 * credentials (a tenant token), the bot (bot info), the long connection (websocket mode:
 * opened and closed again), and membership of every configured chat.
 */
export async function probeFeishu(
  input: FeishuProbeInput,
  options: { logger?: Logger; timeoutMs?: number } = {},
): Promise<FeishuProbe> {
  const logger = options.logger ?? silentLogger();
  const timeoutMs = options.timeoutMs ?? 8_000;
  const api = new SdkFeishuApi({ ...input, logger, timeoutMs });
  const credentials = await outcome(
    () => api.checkCredentials().then(() => true as const),
    "tenant access token",
  );
  const probe: FeishuProbe = { credentials, chats: [] };
  if (!credentials.ok) return probe;
  probe.bot = await outcome(() => api.botInfo({ fresh: true }), "bot info");
  if (input.mode === "websocket") {
    probe.longConnection = await outcome(async () => {
      const connection = new LongConnection({
        ...input,
        logger,
        dispatcher: new lark.EventDispatcher({
          logger: { error() {}, warn() {}, info() {}, debug() {}, trace() {} },
        }),
        readyTimeoutMs: timeoutMs,
      });
      try {
        await connection.start();
        if (connection.state !== "connected") {
          throw new ClawbridgeError("CB_FEISHU_NETWORK", feishuMessages.text("longConnectionSlow"));
        }
        return true as const;
      } finally {
        connection.close();
      }
    }, "long connection");
  }
  probe.chats = await Promise.all(
    input.chats.map(async (chatId) => ({
      chatId,
      outcome: await outcome(() => api.chatInfo(chatId), "chat info"),
    })),
  );
  return probe;
}

async function outcome<T>(fn: () => Promise<T>, operation: string): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: classifyFeishuError(error, operation) };
  }
}
