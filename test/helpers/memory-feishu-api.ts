import { ClawbridgeError } from "../../src/core/index.js";
import type {
  FeishuApi,
  FeishuMsgType,
  PatchMessageRequest,
  ReplyMessageRequest,
  SendMessageRequest,
  SentMessage,
} from "../../src/feishu/api.js";
import type { BotInfo } from "../../src/feishu/types.js";

/**
 * A working in-memory `FeishuApi` for unit tests: it stores messages, deduplicates by uuid
 * (one hour, as Feishu does), enforces Feishu's rate and size limits the way the emulator
 * does (sliding 1 s windows counting admitted calls; codes 230020 / 99991400 / 230025), and
 * can be told to fail upcoming calls — before or after the message is committed.
 */

export type MemoryMethod = "sendMessage" | "replyMessage" | "patchMessage" | "botInfo";

export interface MemoryFeishuApiOptions {
  /** Sends + replies per chat in any sliding second; default 5. `Infinity` disables. */
  sendPerChatQps?: number;
  /** Patches per message in any sliding second; default 5. */
  patchPerMessageQps?: number;
  /** Calls per app in any sliding second; default 50. */
  appQps?: number;
  /** Bytes of a text `content` string; default 150 KiB. */
  textMaxBytes?: number;
  /** Bytes of a card `content` string; default 30 KiB. */
  cardMaxBytes?: number;
  /** Every call answers after this long (its effects happen at once, on arrival). Default 0. */
  latencyMs?: number;
  /** Chats the bot is in; default: any chat id is accepted. */
  chats?: string[];
  bot?: BotInfo;
  now?: () => number;
}

/** A message as the fake stores it. */
export interface MemoryMessage {
  messageId: string;
  chatId: string;
  msgType: FeishuMsgType;
  /** Current content (after patches). */
  content: string;
  uuid: string;
  parentId?: string;
  rootId?: string;
  threadId?: string;
  createdAt: number;
  /** Contents applied by patches, oldest first. */
  patches: string[];
}

/** One call as the fake saw it. */
export interface MemoryCall {
  method: MemoryMethod;
  /** Arrival time (the `now` option). */
  at: number;
  chatId?: string;
  messageId?: string;
  uuid?: string;
  msgType?: FeishuMsgType;
  content?: string;
  /** "ok", or the code of the error thrown. */
  outcome: "ok" | ClawbridgeError["code"];
  /** Set when the call was answered from the uuid cache. */
  deduplicated?: boolean;
}

export interface FailureRule {
  /** Only calls of these methods; default every call but `botInfo`. */
  method?: MemoryMethod | MemoryMethod[];
  /** Only calls this accepts. */
  when?: (call: MemoryCall) => boolean;
  /** Store the message / apply the patch, then throw (a 5xx after the commit). */
  afterCommit?: boolean;
}

interface PendingFailure extends FailureRule {
  remaining: number;
  error: () => ClawbridgeError;
}

const HOUR_MS = 60 * 60_000;
const WINDOW_MS = 1000;

/** Errors shaped like `classifyFeishuError`'s, for `failNext`. */
export const feishuErrors = {
  server: (status = 500) =>
    new ClawbridgeError("CB_FEISHU_SERVER", `Feishu answered HTTP ${status}`, {
      details: { httpStatus: status },
    }),
  network: () => new ClawbridgeError("CB_FEISHU_NETWORK", "Feishu did not answer (ECONNRESET)"),
  rateLimited: ({
    retryAfterMs,
    scope = "chat",
  }: { retryAfterMs?: number; scope?: "chat" | "message" | "app" } = {}) =>
    new ClawbridgeError("CB_FEISHU_RATE_LIMITED", "Feishu: request trigger frequency limit", {
      retryAfterMs,
      details: { scope, feishuCode: scope === "app" ? 99991400 : 230020 },
    }),
  rejected: (feishuCode: number, feishuMsg: string) =>
    new ClawbridgeError("CB_FEISHU_REJECTED", `Feishu refused: ${feishuMsg} (${feishuCode})`, {
      details: { feishuCode, feishuMsg },
    }),
  auth: () => new ClawbridgeError("CB_FEISHU_AUTH", "Feishu refused the app credentials"),
};

export class MemoryFeishuApi implements FeishuApi {
  readonly calls: MemoryCall[] = [];
  private readonly stored = new Map<string, MemoryMessage>();
  private readonly order: MemoryMessage[] = [];
  private readonly byUuid = new Map<string, { messageId: string; at: number }>();
  private readonly windows = new Map<string, number[]>();
  private readonly failures: PendingFailure[] = [];
  private readonly limits: Required<
    Pick<
      MemoryFeishuApiOptions,
      "sendPerChatQps" | "patchPerMessageQps" | "appQps" | "textMaxBytes" | "cardMaxBytes"
    >
  >;
  private readonly now: () => number;
  private nextId = 1;

  constructor(private readonly options: MemoryFeishuApiOptions = {}) {
    this.limits = {
      sendPerChatQps: options.sendPerChatQps ?? 5,
      patchPerMessageQps: options.patchPerMessageQps ?? 5,
      appQps: options.appQps ?? 50,
      textMaxBytes: options.textMaxBytes ?? 150 * 1024,
      cardMaxBytes: options.cardMaxBytes ?? 30 * 1024,
    };
    this.now = options.now ?? Date.now;
  }

  /** The next `count` matching calls throw `error` (a factory gives each call a fresh one). */
  failNext(count: number, error: ClawbridgeError | (() => ClawbridgeError), rule: FailureRule = {}): void {
    this.failures.push({
      ...rule,
      remaining: count,
      error: typeof error === "function" ? error : () => error,
    });
  }

  /** Messages in the order Feishu stored them, optionally of one chat. */
  messages(chatId?: string): MemoryMessage[] {
    return chatId === undefined ? [...this.order] : this.order.filter((m) => m.chatId === chatId);
  }

  message(messageId: string): MemoryMessage | undefined {
    return this.stored.get(messageId);
  }

  /** The `text` of each text message of a chat, in order. */
  texts(chatId: string): string[] {
    return this.messages(chatId)
      .filter((m) => m.msgType === "text")
      .map((m) => (JSON.parse(m.content) as { text: string }).text);
  }

  /** Arrival times of the calls that match. */
  callTimes(filter: (call: MemoryCall) => boolean = () => true): number[] {
    return this.calls.filter(filter).map((c) => c.at);
  }

  /** Calls answered with this outcome. */
  count(outcome: MemoryCall["outcome"], method?: MemoryMethod): number {
    return this.calls.filter((c) => c.outcome === outcome && (!method || c.method === method)).length;
  }

  async sendMessage(request: SendMessageRequest): Promise<SentMessage> {
    const call = this.begin("sendMessage", {
      chatId: request.chatId,
      uuid: request.uuid,
      msgType: request.msgType,
    });
    call.content = request.content;
    return this.answer(call, () => {
      if (this.options.chats && !this.options.chats.includes(request.chatId)) {
        throw feishuErrors.rejected(230002, "bot not in chat");
      }
      this.take(call, `chat:${request.chatId}`, this.limits.sendPerChatQps, "chat");
      return () => this.post(call, request.chatId, request.msgType, request.content, request.uuid);
    });
  }

  async replyMessage(request: ReplyMessageRequest): Promise<SentMessage> {
    const parent = this.stored.get(request.messageId);
    const call = this.begin("replyMessage", {
      chatId: parent?.chatId,
      messageId: request.messageId,
      uuid: request.uuid,
      msgType: request.msgType,
    });
    call.content = request.content;
    return this.answer(call, () => {
      if (!parent) throw feishuErrors.rejected(230011, "message not found or recalled");
      this.take(call, `chat:${parent.chatId}`, this.limits.sendPerChatQps, "chat");
      return () => {
        const sent = this.post(call, parent.chatId, request.msgType, request.content, request.uuid, parent);
        if (request.replyInThread && !call.deduplicated) {
          const message = this.stored.get(sent.messageId)!;
          message.threadId = parent.threadId ?? `omt_${parent.messageId.slice(3)}`;
          parent.threadId = message.threadId;
          sent.threadId = message.threadId;
        }
        return sent;
      };
    });
  }

  async patchMessage(request: PatchMessageRequest): Promise<void> {
    const target = this.stored.get(request.messageId);
    const call = this.begin("patchMessage", { chatId: target?.chatId, messageId: request.messageId });
    call.content = request.content;
    await this.answer(call, () => {
      if (!target) throw feishuErrors.rejected(230011, "message not found or recalled");
      this.take(call, `message:${request.messageId}`, this.limits.patchPerMessageQps, "message");
      if (target.msgType !== "interactive")
        throw feishuErrors.rejected(230001, "only interactive messages can be patched");
      const card = this.parse(request.content) as { config?: { update_multi?: unknown } };
      const sent = JSON.parse(target.content) as { config?: { update_multi?: unknown } };
      if (sent.config?.update_multi !== true) {
        throw feishuErrors.rejected(230031, "card is not shared: update_multi required to patch it");
      }
      if (typeof card !== "object" || card === null)
        throw feishuErrors.rejected(230001, "invalid message content");
      this.checkSize("interactive", request.content);
      return () => {
        target.content = request.content;
        target.patches.push(request.content);
        return undefined;
      };
    });
  }

  async botInfo(): Promise<BotInfo> {
    const call = this.begin("botInfo", {});
    return this.answer(
      call,
      () => () => this.options.bot ?? { openId: "ou_memory_bridge", name: "clawbridge" },
    );
  }

  private begin(method: MemoryMethod, fields: Partial<MemoryCall>): MemoryCall {
    const call: MemoryCall = { method, at: this.now(), outcome: "ok", ...fields };
    this.calls.push(call);
    return call;
  }

  /**
   * Runs a call: `check` validates and takes rate budget, then returns the commit; injected
   * failures fire before or after the commit. The outcome is recorded on `call`.
   */
  private async answer<T>(call: MemoryCall, check: () => () => T): Promise<T> {
    try {
      this.take(call, "app", this.limits.appQps, "app");
      const commit = check();
      const failure = this.failureFor(call);
      if (failure && !failure.afterCommit) throw failure.error();
      const value = commit();
      if (failure?.afterCommit) throw failure.error();
      await this.delay();
      return value;
    } catch (error) {
      call.outcome = error instanceof ClawbridgeError ? error.code : "CB_INTERNAL";
      await this.delay();
      throw error;
    }
  }

  private post(
    call: MemoryCall,
    chatId: string,
    msgType: FeishuMsgType,
    content: string,
    uuid: string,
    parent?: MemoryMessage,
  ): SentMessage {
    if (!uuid || uuid.length > 50) throw feishuErrors.rejected(99992402, "field validation failed: uuid");
    const now = this.now();
    const seen = this.byUuid.get(uuid);
    if (seen && now - seen.at < HOUR_MS) {
      call.deduplicated = true;
      call.messageId = seen.messageId;
      const message = this.stored.get(seen.messageId)!;
      return { messageId: message.messageId, chatId: message.chatId, threadId: message.threadId };
    }
    const parsed = this.parse(content);
    if (msgType === "text" && typeof (parsed as { text?: unknown }).text !== "string") {
      throw feishuErrors.rejected(230001, "invalid message content");
    }
    if (msgType === "interactive" && JSON.stringify(parsed).includes("i_am_invalid")) {
      throw feishuErrors.rejected(230099, "Failed to create card content, ext=ErrCode: 200621");
    }
    this.checkSize(msgType, content);
    const message: MemoryMessage = {
      messageId: `om_${(this.nextId++).toString(16).padStart(8, "0")}`,
      chatId,
      msgType,
      content,
      uuid,
      createdAt: now,
      patches: [],
      ...(parent ? { parentId: parent.messageId, rootId: parent.rootId ?? parent.messageId } : {}),
    };
    this.stored.set(message.messageId, message);
    this.order.push(message);
    this.byUuid.set(uuid, { messageId: message.messageId, at: now });
    call.messageId = message.messageId;
    return { messageId: message.messageId, chatId };
  }

  private parse(content: string): unknown {
    try {
      return JSON.parse(content);
    } catch {
      throw feishuErrors.rejected(230001, "invalid message content");
    }
  }

  private checkSize(msgType: FeishuMsgType, content: string): void {
    const max = msgType === "interactive" ? this.limits.cardMaxBytes : this.limits.textMaxBytes;
    if (Buffer.byteLength(content, "utf8") > max)
      throw feishuErrors.rejected(230025, "message content too long");
  }

  // Sliding window of admitted calls, as the emulator keeps it.
  private take(call: MemoryCall, key: string, limit: number, scope: "chat" | "message" | "app"): void {
    if (!Number.isFinite(limit)) return;
    const now = call.at;
    let list = this.windows.get(key);
    if (!list) this.windows.set(key, (list = []));
    while (list.length > 0 && list[0]! <= now - WINDOW_MS) list.shift();
    if (list.length >= limit) {
      const resetMs = list[0]! + WINDOW_MS - now;
      // Feishu sends x-ogw-ratelimit-reset (whole seconds) only with the app-wide limit.
      throw feishuErrors.rateLimited({
        scope,
        retryAfterMs: scope === "app" ? Math.max(1, Math.ceil(resetMs / 1000)) * 1000 : undefined,
      });
    }
    list.push(now);
  }

  private failureFor(call: MemoryCall): PendingFailure | undefined {
    const index = this.failures.findIndex((rule) => {
      const methods = rule.method === undefined ? undefined : [rule.method].flat();
      if (methods ? !methods.includes(call.method) : call.method === "botInfo") return false;
      return rule.when ? rule.when(call) : true;
    });
    if (index < 0) return undefined;
    const rule = this.failures[index]!;
    if (--rule.remaining <= 0) this.failures.splice(index, 1);
    return rule;
  }

  private delay(): Promise<void> {
    const ms = this.options.latencyMs ?? 0;
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }
}
