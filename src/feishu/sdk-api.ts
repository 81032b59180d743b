import { lark, type Lark } from "./lark.js";
import { isClawbridgeError, systemClock, type Clock, type Logger } from "../core/index.js";
import type {
  FeishuApi,
  PatchMessageRequest,
  ReplyMessageRequest,
  SendMessageRequest,
  SentMessage,
} from "./api.js";
import { classifyFeishuBody, classifyFeishuError, feishuCodeOf } from "./feishu-errors.js";
import { sdkLogger } from "./sdk-logger.js";
import type { BotInfo } from "./types.js";

/** Every Feishu call has a deadline; the SDK's own default is none. */
export const DEFAULT_FEISHU_TIMEOUT_MS = 10_000;
/** Bot info rarely changes; probing it per request burns quota (a known pain of Feishu bots). */
const BOT_INFO_TTL_MS = 10 * 60_000;

export interface FeishuAppOptions {
  appId: string;
  appSecret: string;
  /** "feishu", "lark" or a base URL (tests, the demo, private deployments). */
  domain: string;
  logger: Logger;
  timeoutMs?: number;
  /** Ages the bot-info cache. */
  clock?: Clock;
}

/** The SDK's `domain` option for our config value. */
export function larkDomain(domain: string): Lark.Domain | string {
  if (domain === "feishu") return lark.Domain.Feishu;
  if (domain === "lark") return lark.Domain.Lark;
  return domain.replace(/\/+$/, "");
}

/** The base URL a `domain` setting stands for (for people: "feishu" → https://open.feishu.cn). */
export function domainUrl(domain: string): string {
  if (domain === "feishu") return "https://open.feishu.cn";
  if (domain === "lark") return "https://open.larksuite.com";
  return domain.replace(/\/+$/, "");
}

/**
 * An axios-compatible instance for the SDK that adds a timeout to every request. The
 * SDK's default instance unwraps `response.data`; this keeps that behaviour.
 */
export function timeoutHttpInstance(timeoutMs: number): Lark.HttpInstance {
  const base = lark.defaultHttpInstance as unknown as Record<
    string,
    (...args: unknown[]) => Promise<unknown>
  >;
  const withTimeout = (opts: unknown) => ({ timeout: timeoutMs, ...((opts as object | undefined) ?? {}) });
  const instance: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    request: (opts) => base.request!(withTimeout(opts)),
  };
  for (const method of ["get", "delete", "head", "options"]) {
    instance[method] = (url, opts) => base[method]!(url, withTimeout(opts));
  }
  for (const method of ["post", "put", "patch"]) {
    instance[method] = (url, data, opts) => base[method]!(url, data, withTimeout(opts));
  }
  return instance as unknown as Lark.HttpInstance;
}

/**
 * A `lark.Client` for the bridge's app: its own token cache (the SDK's default cache is
 * process-wide), a redacting logger, a timeout on every request.
 */
export function createLarkClient(
  options: FeishuAppOptions,
  cache: Lark.Cache = new lark.DefaultCache(),
): Lark.Client {
  return new lark.Client({
    appId: options.appId,
    appSecret: options.appSecret,
    domain: larkDomain(options.domain),
    cache,
    logger: sdkLogger(options.logger),
    loggerLevel: lark.LoggerLevel.debug,
    httpInstance: timeoutHttpInstance(options.timeoutMs ?? DEFAULT_FEISHU_TIMEOUT_MS),
  });
}

interface MessageData {
  message_id?: string;
  chat_id?: string;
  thread_id?: string;
}

/** Feishu codes for a tenant token it no longer accepts (expired early, revoked, app reset). */
const STALE_TOKEN_CODES = new Set([99991661, 99991663, 99991668]);

/** `FeishuApi` over the official SDK. Errors are classified (see `FeishuApi`). */
export class SdkFeishuApi implements FeishuApi {
  readonly client: Lark.Client;
  private readonly tokenCache = new lark.DefaultCache();
  private botInfoCache?: { info: BotInfo; at: number };

  constructor(private readonly app: FeishuAppOptions) {
    this.client = createLarkClient(app, this.tokenCache);
  }

  async sendMessage(request: SendMessageRequest): Promise<SentMessage> {
    const res = await this.call("send message", () =>
      this.client.im.v1.message.create({
        params: { receive_id_type: "chat_id" },
        data: {
          receive_id: request.chatId,
          msg_type: request.msgType,
          content: request.content,
          uuid: request.uuid,
        },
      }),
    );
    return sent(res.data, "send message", request.chatId);
  }

  async replyMessage(request: ReplyMessageRequest): Promise<SentMessage> {
    const res = await this.call("reply", () =>
      this.client.im.v1.message.reply({
        path: { message_id: request.messageId },
        data: {
          msg_type: request.msgType,
          content: request.content,
          uuid: request.uuid,
          ...(request.replyInThread ? { reply_in_thread: true } : {}),
        },
      }),
    );
    return sent(res.data, "reply");
  }

  async patchMessage(request: PatchMessageRequest): Promise<void> {
    await this.call("update card", () =>
      this.client.im.v1.message.patch({
        path: { message_id: request.messageId },
        data: { content: request.content },
      }),
    );
  }

  /** Cached for ten minutes: it is asked at start and by health checks, never per message. */
  async botInfo(options: { fresh?: boolean } = {}): Promise<BotInfo> {
    const cached = this.botInfoCache;
    const now = (this.app.clock ?? systemClock).now();
    if (!options.fresh && cached && now - cached.at < BOT_INFO_TTL_MS) return cached.info;
    const res = await this.call("bot info", () =>
      this.client.request<{ code?: number; msg?: string; bot?: Record<string, unknown> }>({
        url: "/open-apis/bot/v3/info",
        method: "GET",
      }),
    );
    const bot = res.bot ?? {};
    if (typeof bot.open_id !== "string") {
      throw classifyFeishuError(
        { response: { status: 200, data: { code: -1, msg: "bot info without open_id" } } },
        "bot info",
      );
    }
    const info: BotInfo = {
      openId: bot.open_id,
      name: typeof bot.app_name === "string" ? bot.app_name : "",
      activateStatus: typeof bot.activate_status === "number" ? bot.activate_status : undefined,
    };
    this.botInfoCache = { info, at: (this.app.clock ?? systemClock).now() };
    return info;
  }

  /** A group's name, or `CB_FEISHU_REJECTED` when the bot is not in it (doctor). */
  async chatInfo(chatId: string): Promise<{ chatId: string; name: string }> {
    const res = await this.call("chat info", () => this.client.im.v1.chat.get({ path: { chat_id: chatId } }));
    return { chatId, name: res.data?.name ?? "" };
  }

  /** Asks for a tenant access token (the credentials check of `doctor`). */
  async checkCredentials(): Promise<void> {
    await this.call("tenant access token", () => this.client.tokenManager.getTenantAccessToken());
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.callOnce(operation, fn);
    } catch (error) {
      // The SDK keeps a cached tenant token until its own expiry, even when Feishu refuses
      // it: forget it and ask for a new one, once.
      const code = isClawbridgeError(error) ? feishuCodeOf(error) : undefined;
      if (code === undefined || !STALE_TOKEN_CODES.has(code)) throw error;
      await this.tokenCache.set(lark.CTenantAccessToken, "", 1, { namespace: this.app.appId });
      return this.callOnce(operation, fn);
    }
  }

  private async callOnce<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let res: T;
    try {
      res = await fn();
    } catch (error) {
      throw classifyFeishuError(error, operation);
    }
    const refused = classifyFeishuBody(res, operation);
    if (refused) throw refused;
    return res;
  }
}

function sent(data: MessageData | undefined, operation: string, chatId?: string): SentMessage {
  if (!data?.message_id) {
    throw classifyFeishuError(
      { response: { status: 200, data: { code: -1, msg: "answer without message_id" } } },
      operation,
    );
  }
  return {
    messageId: data.message_id,
    chatId: data.chat_id ?? chatId,
    ...(data.thread_id ? { threadId: data.thread_id } : {}),
  };
}
