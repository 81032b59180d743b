import type { BotInfo } from "./types.js";

/** Feishu `msg_type` values the bridge sends. */
export type FeishuMsgType = "text" | "interactive" | "post";

export interface SendMessageRequest {
  chatId: string;
  msgType: FeishuMsgType;
  /** The `content` string exactly as the API takes it (JSON text). */
  content: string;
  /** ≤ 50 chars; Feishu posts at most one message per uuid within an hour. */
  uuid: string;
}

export interface ReplyMessageRequest {
  /** The message replied to. */
  messageId: string;
  msgType: FeishuMsgType;
  content: string;
  uuid: string;
  replyInThread?: boolean;
}

export interface PatchMessageRequest {
  messageId: string;
  /** Card JSON text; only cards sent with `update_multi: true` can be patched for everyone. */
  content: string;
}

export interface SentMessage {
  messageId: string;
  chatId?: string;
  threadId?: string;
}

/**
 * The Feishu Open Platform calls the bridge makes, one method per endpoint. The real
 * implementation (`SdkFeishuApi`) goes through `@larksuiteoapi/node-sdk`; every method
 * throws a `ClawbridgeError` classified by `classifyFeishuError`:
 *
 * - `CB_FEISHU_RATE_LIMITED` — HTTP 429 / code 99991400 (app quota) or 230020 (per chat or
 *   per message); `retryAfterMs` from `x-ogw-ratelimit-reset` when Feishu sent it.
 * - `CB_FEISHU_SERVER` — HTTP 5xx; retryable.
 * - `CB_FEISHU_NETWORK` — no HTTP answer (refused, reset, timeout); retryable.
 * - `CB_FEISHU_AUTH` — credentials refused; not retryable.
 * - `CB_FEISHU_REJECTED` — Feishu answered and said no (bad card, too long, no permission);
 *   `details.feishuCode` / `details.feishuMsg` carry Feishu's own code and message.
 */
export interface FeishuApi {
  sendMessage(request: SendMessageRequest): Promise<SentMessage>;
  replyMessage(request: ReplyMessageRequest): Promise<SentMessage>;
  patchMessage(request: PatchMessageRequest): Promise<void>;
  botInfo(): Promise<BotInfo>;
}
