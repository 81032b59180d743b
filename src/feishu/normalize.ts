import { z } from "zod";
import {
  cardActionEventSchema,
  messageEventSchema,
  postElementSchema,
  type MessageEvent,
  type PostElement,
} from "./event-schemas.js";
import type { CardActionEvent, FeishuAttachment, FeishuMention, InboundChatMessage } from "./types.js";

export interface NormalizeContext {
  /** The bridge bot's open_id (as its own app sees it), from bot info. */
  bridgeOpenId?: string;
  /** Builds the link shown in an attachment placeholder. */
  messageLink?: (chatId: string, messageId: string) => string;
  /** When the event arrived: its time when Feishu left `create_time` out. */
  receivedAt?: number;
}

/** Why a payload could not be normalised (logged; the event is acknowledged and dropped). */
export class UnreadableEvent extends Error {}

/** `im.message.receive_v1` (as the SDK dispatcher flattens it) → `InboundChatMessage`. */
export function normalizeMessageEvent(raw: unknown, context: NormalizeContext = {}): InboundChatMessage {
  const parsed = messageEventSchema.safeParse(raw);
  if (!parsed.success) throw new UnreadableEvent(`message event: ${z.prettifyError(parsed.error)}`);
  const event = parsed.data;
  const m = event.message;
  const mentions = resolveMentions(event, context);
  const byKey = new Map(mentions.map((mention) => [mention.key, mention]));
  const content = parseContent(m.content);
  const attachments: FeishuAttachment[] = [];
  const link = context.messageLink?.(m.chat_id, m.message_id);
  const render = (dropBridge: boolean) =>
    renderContent(m.message_type, content, {
      mention: (key, fallbackName) => {
        const mention = byKey.get(key);
        if (dropBridge && mention?.isBridge) return "";
        return `@${mention?.name || fallbackName || key}`;
      },
      attach: (attachment) => {
        if (!dropBridge) attachments.push(attachment);
      },
      link,
    });
  const text = tidy(render(false));
  const ids = event.sender.sender_id ?? {};
  const senderType = event.sender.sender_type === "user" ? "user" : "bot";
  return {
    eventId: event.event_id,
    messageId: m.message_id,
    chatId: m.chat_id,
    chatType: m.chat_type,
    ...(m.root_id ? { rootId: m.root_id } : {}),
    ...(m.parent_id ? { parentId: m.parent_id } : {}),
    ...(m.thread_id ? { threadId: m.thread_id } : {}),
    sender: {
      openId: ids.open_id ?? "",
      ...(ids.union_id ? { unionId: ids.union_id } : {}),
      ...(ids.user_id ? { userId: ids.user_id } : {}),
      type: senderType,
    },
    messageType: m.message_type,
    text,
    textWithoutBridgeMention: tidy(render(true)),
    mentions,
    mentionsBridge: mentions.some((mention) => mention.isBridge),
    attachments,
    createdAt: Number(m.create_time) || (context.receivedAt ?? 0),
  };
}

/** `card.action.trigger` → `CardActionEvent`. */
export function normalizeCardAction(raw: unknown): CardActionEvent {
  const parsed = cardActionEventSchema.safeParse(raw);
  if (!parsed.success) throw new UnreadableEvent(`card action: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  const value = e.action.value;
  return {
    eventId: e.event_id,
    operator: {
      openId: e.operator.open_id ?? "",
      ...(e.operator.union_id ? { unionId: e.operator.union_id } : {}),
      ...(e.operator.user_id ? { userId: e.operator.user_id } : {}),
    },
    ...(e.token ? { token: e.token } : {}),
    action: {
      tag: e.action.tag,
      // A button's value is the object we put on it; older cards may send a JSON string.
      value:
        typeof value === "object" && value !== null ? (value as Record<string, unknown>) : parseObject(value),
      ...(e.action.name ? { name: e.action.name } : {}),
      ...(e.action.form_value ? { formValue: e.action.form_value } : {}),
      ...(e.action.option ? { option: e.action.option } : {}),
      ...(e.action.input_value ? { inputValue: e.action.input_value } : {}),
    },
    ...(e.context?.open_message_id ? { messageId: e.context.open_message_id } : {}),
    ...(e.context?.open_chat_id ? { chatId: e.context.open_chat_id } : {}),
  };
}

function resolveMentions(event: MessageEvent, context: NormalizeContext): FeishuMention[] {
  return (event.message.mentions ?? []).map((mention) => ({
    key: mention.key,
    ...(mention.id?.open_id ? { openId: mention.id.open_id } : {}),
    ...(mention.id?.union_id ? { unionId: mention.id.union_id } : {}),
    name: mention.name,
    isBridge: Boolean(context.bridgeOpenId && mention.id?.open_id === context.bridgeOpenId),
  }));
}

interface RenderHooks {
  mention(key: string, fallbackName?: string): string;
  attach(attachment: FeishuAttachment): void;
  link?: string;
}

const MENTION_KEY = /@_user_\d+|@_all/g;
const ATTACHMENT_LABEL: Record<string, FeishuAttachment["kind"]> = {
  image: "image",
  file: "file",
  audio: "audio",
  media: "media",
  sticker: "sticker",
};

function renderContent(type: string, content: Record<string, unknown>, hooks: RenderHooks): string {
  if (type === "text") {
    const text = typeof content.text === "string" ? content.text : "";
    return text.replace(MENTION_KEY, (key) => (key === "@_all" ? "@all" : hooks.mention(key)));
  }
  if (type === "post") return renderPost(content, hooks);
  const kind = ATTACHMENT_LABEL[type] ?? "other";
  const name = typeof content.file_name === "string" ? content.file_name : undefined;
  const key = [content.image_key, content.file_key].find((k): k is string => typeof k === "string");
  return placeholder(kind === "other" ? type : kind, hooks, { key, name });
}

function placeholder(kind: string, hooks: RenderHooks, item: { key?: string; name?: string }): string {
  const known = (ATTACHMENT_LABEL[kind] ?? "other") as FeishuAttachment["kind"];
  const text = `[${kind}${item.name ? `: ${item.name}` : ""}]${hooks.link ? ` ${hooks.link}` : ""}`;
  hooks.attach({
    kind: known,
    ...(item.key ? { key: item.key } : {}),
    ...(item.name ? { name: item.name } : {}),
    placeholder: text,
  });
  return text;
}

/**
 * A `post` (rich text, what the mobile app often sends): `{title, content: [[element…]…]}`,
 * or the same wrapped in a locale key (`{zh_cn: {…}}`) in older payloads.
 */
function renderPost(content: Record<string, unknown>, hooks: RenderHooks): string {
  const body = Array.isArray(content.content) ? content : firstLocale(content);
  const lines: string[] = [];
  if (typeof body.title === "string" && body.title.trim()) lines.push(body.title.trim());
  const paragraphs = Array.isArray(body.content) ? body.content : [];
  for (const paragraph of paragraphs) {
    if (!Array.isArray(paragraph)) continue;
    lines.push(paragraph.map((element) => renderElement(element, hooks)).join(""));
  }
  return lines.join("\n");
}

function renderElement(raw: unknown, hooks: RenderHooks): string {
  const parsed = postElementSchema.safeParse(raw);
  if (!parsed.success) return "";
  const e: PostElement = parsed.data;
  switch (e.tag) {
    case "text":
    case "md":
      return e.text ?? "";
    case "a":
      return e.href && e.text && e.text !== e.href ? `${e.text} (${e.href})` : (e.text ?? e.href ?? "");
    case "at":
      if (e.user_id === "all" || e.user_id === "@_all") return "@all";
      return hooks.mention(e.user_id ?? "", e.user_name);
    case "img":
      return placeholder("image", hooks, { key: e.image_key });
    case "media":
      return placeholder("media", hooks, { key: e.file_key });
    case "emotion":
      return e.emoji_type ? `[${e.emoji_type}]` : "";
    case "code_block":
      return `\n\`\`\`${e.language ?? ""}\n${e.text ?? ""}\n\`\`\`\n`;
    case "hr":
      return "\n---\n";
    default:
      return e.text ?? "";
  }
}

function firstLocale(content: Record<string, unknown>): Record<string, unknown> {
  for (const value of Object.values(content)) {
    if (
      typeof value === "object" &&
      value !== null &&
      Array.isArray((value as { content?: unknown }).content)
    ) {
      return value as Record<string, unknown>;
    }
  }
  return {};
}

function parseContent(text: string): Record<string, unknown> {
  return parseObject(text);
}

function parseObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "string") return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Collapses the gaps a removed mention leaves, keeps line breaks. */
function tidy(text: string): string {
  return text
    .split("\n")
    .map((line) => line.replace(/[ \t\u00a0]{2,}/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
