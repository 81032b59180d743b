/**
 * The Feishu edge as the rest of clawbridge sees it: one inbound chat-message type, one
 * card-action type, and the outbound operations. Nothing outside `src/feishu/` sees an SDK
 * type or a raw event payload.
 */

/** Who posted a message: a person or a bot, as the bridge app sees them. */
export interface FeishuSender {
  /** open_id as seen by the bridge's app (per app: never compare it with another app's). */
  openId: string;
  unionId?: string;
  userId?: string;
  type: "user" | "bot";
}

/** One @mention inside a message, with its `@_user_N` key resolved. */
export interface FeishuMention {
  key: string;
  openId?: string;
  unionId?: string;
  name: string;
  /** The bridge's own bot. */
  isBridge: boolean;
}

/** An image, file or other non-text part, relayed as a placeholder with a link. */
export interface FeishuAttachment {
  kind: "image" | "file" | "audio" | "media" | "sticker" | "other";
  key?: string;
  name?: string;
  /** Human-facing placeholder, e.g. `[image] https://…` (already in `text`). */
  placeholder: string;
}

/** A chat message, whatever the intake mode and message type. */
export interface InboundChatMessage {
  eventId: string;
  messageId: string;
  chatId: string;
  chatType: string;
  /** Root of the reply chain / topic (`root_id`), if the message is a reply. */
  rootId?: string;
  parentId?: string;
  threadId?: string;
  sender: FeishuSender;
  /** Feishu's `message_type` (text, post, image, file, …). */
  messageType: string;
  /**
   * Plain text: `text` and `post` content with `@_user_N` replaced by `@Name`, attachments
   * as placeholders. Mentions of the bridge itself are kept (`@clawbridge`); use
   * `textWithoutBridgeMention` for commands.
   */
  text: string;
  /** `text` with the bridge's own @mention(s) removed and whitespace trimmed. */
  textWithoutBridgeMention: string;
  mentions: FeishuMention[];
  mentionsBridge: boolean;
  attachments: FeishuAttachment[];
  /** ms since epoch, from `create_time`. */
  createdAt: number;
}

/** A card button click, select or form submit (`card.action.trigger`). */
export interface CardActionEvent {
  eventId: string;
  operator: { openId: string; unionId?: string; userId?: string };
  /** For a delayed update of the card. */
  token?: string;
  action: {
    tag: string;
    value: Record<string, unknown>;
    name?: string;
    formValue?: Record<string, unknown>;
    option?: string;
    inputValue?: string;
  };
  messageId?: string;
  chatId?: string;
}

export type ToastType = "info" | "success" | "warning" | "error";

/** The synchronous answer to a card action (must be produced within 3 s). */
export interface CardActionAnswer {
  toast?: { type: ToastType; content: string };
  /** Replaces the card at once. */
  card?: CardJson;
}

/** A message card (JSON 1.0 or 2.0 schema) as Feishu takes it. */
export type CardJson = Record<string, unknown>;

/** What the bridge asks Feishu to show. */
export type OutboundContent =
  | { kind: "text"; text: string }
  /** `fallbackText` is posted when Feishu rejects the card. */
  | { kind: "card"; card: CardJson; fallbackText: string };

/** Identity of the bridge's own bot, from `GET /open-apis/bot/v3/info`. */
export interface BotInfo {
  openId: string;
  name: string;
  activateStatus?: number;
}

/** What the Feishu intake calls. Handlers may be async; card actions must answer within 3 s. */
export interface FeishuHandlers {
  onMessage(message: InboundChatMessage): void | Promise<void>;
  onCardAction?(
    action: CardActionEvent,
  ): CardActionAnswer | undefined | Promise<CardActionAnswer | undefined>;
}
