/**
 * Schema 2.0 event envelopes, built per receiving app (open_ids differ per app), and the
 * rules deciding which app receives a group message at all.
 */
import type { AppState, Directory } from "./directory.js";
import { newIds } from "./ids.js";
import type { EmulatedMessage, Person } from "./types.js";

export interface Envelope {
  schema: "2.0";
  header: {
    event_id: string;
    event_type: string;
    create_time: string;
    token: string;
    app_id: string;
    tenant_key: string;
  };
  event: Record<string, unknown>;
}

export function envelope(
  dir: Directory,
  app: AppState,
  eventType: string,
  event: Record<string, unknown>,
): Envelope {
  return {
    schema: "2.0",
    header: {
      event_id: newIds.event(),
      event_type: eventType,
      create_time: String(Date.now()),
      token: app.verificationToken,
      app_id: app.appId,
      tenant_key: dir.tenantKey,
    },
    event,
  };
}

/** The key of the n-th mention (1-based), as Feishu writes it into content. */
export const mentionKey = (n: number): string => `@_user_${n}`;

/**
 * Why `app` does not receive `message` (undefined: it does). Mirrors Feishu: an app never
 * hears its own messages; a person's message reaches it when it is @mentioned or when it
 * has `groupMsg`; another bot's message only when that bot @mentions it and the app has
 * `includeBotAtMsg`.
 */
export function notDeliverable(dir: Directory, app: AppState, message: EmulatedMessage): string | undefined {
  if (message.senderAppId === app.appId) return "an app does not receive its own messages";
  if (!dir.isMember(message.chatId, app.bot.unionId)) return "the app's bot is not in the chat";
  const mentioned = message.mentions.includes(app.bot.unionId);
  if (message.senderAppId) {
    if (!mentioned) return "a bot's message reaches another app only when it @mentions that app's bot";
    if (!app.scopes.includeBotAtMsg)
      return "the app lacks im:message.group_at_msg.include_bot (includeBotAtMsg)";
    return undefined;
  }
  if (!mentioned && !app.scopes.groupMsg)
    return "not @mentioned and the app lacks im:message.group_msg (groupMsg)";
  return undefined;
}

/** `im.message.receive_v1` for one app; `content` is the event content with `@_user_N` keys. */
export function messageEvent(
  dir: Directory,
  app: AppState,
  message: EmulatedMessage,
  content: unknown,
): Envelope {
  const sender = dir.principal(message.senderUnionId);
  const senderId: Record<string, string> = {
    union_id: message.senderUnionId,
    open_id: dir.openId(app.appId, message.senderUnionId),
  };
  if (sender?.kind === "person") senderId.user_id = sender.userId;
  const mentions = message.mentions.map((unionId, i) => {
    const who = dir.principal(unionId);
    const id: Record<string, string> = { union_id: unionId, open_id: dir.openId(app.appId, unionId) };
    if (who?.kind === "person") id.user_id = who.userId;
    return { key: mentionKey(i + 1), id, name: who?.name ?? "", tenant_key: dir.tenantKey };
  });
  const body: Record<string, unknown> = {
    message_id: message.messageId,
    root_id: message.rootId ?? "",
    parent_id: message.parentId ?? "",
    create_time: String(message.createdAt),
    update_time: String(message.updatedAt),
    chat_id: message.chatId,
    ...(message.threadId ? { thread_id: message.threadId } : {}),
    chat_type: "group",
    message_type: message.msgType,
    content: JSON.stringify(content),
    // Feishu leaves `mentions` out when there are none.
    ...(mentions.length > 0 ? { mentions } : {}),
  };
  return envelope(dir, app, "im.message.receive_v1", {
    sender: {
      sender_id: senderId,
      sender_type: message.senderAppId ? "bot" : "user",
      tenant_key: dir.tenantKey,
    },
    message: body,
  });
}

export interface CardAction {
  value: unknown;
  tag: string;
  name?: string;
  formValue?: Record<string, unknown>;
}

/** `card.action.trigger` for the app that sent the card. */
export function cardActionEvent(
  dir: Directory,
  app: AppState,
  message: EmulatedMessage,
  operator: Person,
  action: CardAction,
): Envelope {
  return envelope(dir, app, "card.action.trigger", {
    operator: {
      tenant_key: dir.tenantKey,
      user_id: operator.userId,
      open_id: operator.openIdFor(app.appId),
      union_id: operator.unionId,
    },
    token: newIds.cardToken(),
    action: {
      value: action.value,
      tag: action.tag,
      ...(action.name !== undefined ? { name: action.name } : {}),
      ...(action.formValue !== undefined ? { form_value: action.formValue } : {}),
    },
    host: "im_message",
    context: { open_message_id: message.messageId, open_chat_id: message.chatId },
  });
}
