import type { Router } from "@koa/router";
import type { Context } from "koa";
import { REFUSALS } from "./codes.js";
import { checkCard, checkContent, mentionedOpenIds, postBody, textWithKeys } from "./content.js";
import { callState, isObject, ok, refuse, type Core } from "./core.js";
import type { AppState } from "./directory.js";
import { mentionKey } from "./event-builder.js";
import type { EmulatedMessage } from "./types.js";

/**
 * `im/v1/messages`: send, reply, patch, get. Checks run in Feishu's order: fields,
 * content (type, size, card), uuid dedup, membership, per-chat / per-message limit.
 */
export function registerMessageRoutes(router: Router, core: Core): void {
  router.post("/open-apis/im/v1/messages", (ctx) => {
    const body = callState(ctx).body;
    if (ctx.query.receive_id_type !== "chat_id" || !isObject(body) || typeof body.receive_id !== "string") {
      return refuse(ctx, REFUSALS.fieldValidation);
    }
    create(core, ctx, body, body.receive_id);
  });

  router.post("/open-apis/im/v1/messages/:message_id/reply", (ctx) => {
    const body = callState(ctx).body;
    if (!isObject(body)) return refuse(ctx, REFUSALS.fieldValidation);
    const parent = core.store.get(ctx.params.message_id!);
    if (!parent) return refuse(ctx, REFUSALS.messageNotFound);
    create(core, ctx, body, parent.chatId, parent);
  });

  router.patch("/open-apis/im/v1/messages/:message_id", (ctx) => {
    const app = callState(ctx).app!;
    const body = callState(ctx).body;
    if (!isObject(body) || typeof body.content !== "string") return refuse(ctx, REFUSALS.fieldValidation);
    const message = core.store.get(ctx.params.message_id!);
    if (!message) return refuse(ctx, REFUSALS.messageNotFound);
    if (message.msgType !== "interactive") return refuse(ctx, REFUSALS.notACard);
    if (message.senderAppId !== app.appId || message.origin !== "api") return refuse(ctx, REFUSALS.notSender);
    if (!message.updateMulti) return refuse(ctx, REFUSALS.notUpdateMulti);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.content);
    } catch {
      return refuse(ctx, REFUSALS.invalidCard);
    }
    const checked = checkCard(parsed, body.content, Buffer.byteLength(body.content, "utf8"), core.limits);
    if (!checked.ok) return refuse(ctx, checked.refusal);
    if (!core.windows.patch.take(message.messageId, core.limits.patchPerMessageQps).ok) {
      return refuse(ctx, REFUSALS.frequencyLimit);
    }
    core.store.patch(message.messageId, checked.content, "api");
    ok(ctx, { data: {} });
  });

  router.get("/open-apis/im/v1/messages/:message_id", (ctx) => {
    const app = callState(ctx).app!;
    const message = core.store.get(ctx.params.message_id!);
    if (!message) return refuse(ctx, REFUSALS.messageNotFound);
    if (!core.dir.isMember(message.chatId, app.bot.unionId)) return refuse(ctx, REFUSALS.botNotInChat);
    ok(ctx, { data: { items: [messageData(core, app, message)] } });
  });
}

function create(
  core: Core,
  ctx: Context,
  body: Record<string, unknown>,
  chatId: string,
  parent?: EmulatedMessage,
): void {
  const app = callState(ctx).app!;
  const checked = checkContent(body.msg_type, body.content, core.limits);
  if (!checked.ok) return refuse(ctx, checked.refusal);
  const uuid = typeof body.uuid === "string" && body.uuid !== "" ? body.uuid.slice(0, 50) : undefined;
  const earlier = uuid ? core.store.byUuid(app.appId, uuid) : undefined;
  if (earlier) return ok(ctx, { data: messageData(core, app, earlier) });
  if (!core.dir.isMember(chatId, app.bot.unionId)) return refuse(ctx, REFUSALS.botNotInChat);
  if (!core.windows.chat.take(chatId, core.limits.sendPerChatQps).ok)
    return refuse(ctx, REFUSALS.frequencyLimit);
  const msgType = body.msg_type as string;
  const mentions = resolveMentions(core, app, msgType, checked.content);
  const message = core.store.create({
    chatId,
    msgType,
    content: checked.content,
    ...(msgType === "text" ? { text: (checked.content as { text: string }).text } : {}),
    senderAppId: app.appId,
    senderUnionId: app.bot.unionId,
    origin: "api",
    uuid,
    parentId: parent?.messageId,
    replyInThread: body.reply_in_thread === true,
    mentions: mentions.unionIds,
    updateMulti: checked.updateMulti,
  });
  // Other bots in the chat may hear it (when it @mentions them); the sender never does.
  core.fanout(message, mentions.eventContent);
  ok(ctx, { data: messageData(core, app, message) });
}

/** The `data` of a send/reply/get answer. */
function messageData(core: Core, app: AppState, m: EmulatedMessage): Record<string, unknown> {
  const mentions = m.mentions.map((unionId, i) => ({
    key: mentionKey(i + 1),
    id: core.dir.openId(app.appId, unionId),
    id_type: "open_id",
    name: core.dir.principal(unionId)?.name ?? "",
    tenant_key: core.dir.tenantKey,
  }));
  const sender = m.senderAppId
    ? { id: m.senderAppId, id_type: "app_id", sender_type: "app", tenant_key: core.dir.tenantKey }
    : {
        id: core.dir.openId(app.appId, m.senderUnionId),
        id_type: "open_id",
        sender_type: "user",
        tenant_key: core.dir.tenantKey,
      };
  return {
    message_id: m.messageId,
    ...(m.rootId ? { root_id: m.rootId } : {}),
    ...(m.parentId ? { parent_id: m.parentId } : {}),
    ...(m.threadId ? { thread_id: m.threadId } : {}),
    msg_type: m.msgType,
    create_time: String(m.createdAt),
    update_time: String(m.updatedAt),
    deleted: false,
    updated: m.patches.length > 0,
    chat_id: m.chatId,
    sender,
    body: { content: JSON.stringify(m.content) },
    ...(mentions.length > 0 ? { mentions } : {}),
  };
}

/**
 * The principals an API-sent message mentions (`<at user_id="ou_…">` with open_ids as the
 * sender sees them) and the content other apps receive, with `@_user_N` keys.
 */
function resolveMentions(core: Core, app: AppState, msgType: string, content: unknown) {
  const unionIds: string[] = [];
  const keys = new Map<string, string>();
  for (const openId of mentionedOpenIds(msgType, content)) {
    const who = core.dir.principalByOpenId(app.appId, openId);
    if (!who || unionIds.includes(who.unionId)) continue;
    unionIds.push(who.unionId);
    keys.set(openId, mentionKey(unionIds.length));
  }
  let eventContent = content;
  if (msgType === "text" && isObject(content) && typeof content.text === "string") {
    eventContent = { text: textWithKeys(content.text, (id) => keys.get(id)) };
  } else if (msgType === "post") {
    const post = postBody(content);
    eventContent = {
      title: post.title,
      content: post.content.map((paragraph) =>
        paragraph.map((el) => {
          const key = el.tag === "at" && typeof el.user_id === "string" ? keys.get(el.user_id) : undefined;
          if (!key) return el;
          const unionId = unionIds[Number(key.slice("@_user_".length)) - 1]!;
          return { tag: "at", user_id: key, user_name: core.dir.principal(unionId)?.name ?? "" };
        }),
      ),
    };
  }
  return { unionIds, eventContent };
}
