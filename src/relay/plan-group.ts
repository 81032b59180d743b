import { closestKey } from "../core/index.js";
import type { InboundChatMessage } from "../feishu/index.js";
import type { RelayAction } from "./actions.js";
import type { Addressee } from "./addressing.js";
import { newEnvelope, postUuid, type RelayContext } from "./relay-context.js";
import { chatSessionKey } from "./session-keys.js";

const TELL = /^\/(?:tell|告诉)(?:\s+|$)/i;

/**
 * Person → node (ARCHITECTURE.md "Routes" 2): `/tell <node> text`, or `@bridge @<node> text`
 * for a node without its own bot. Gated by `access.dispatchers` from the start — a refusal
 * says why and who can grant it. Other messages are not this route's business (commands
 * belong to the task layer; a person @mentioning a node's own bot is that node's business).
 */
export function planFromGroup(message: InboundChatMessage, ctx: RelayContext): RelayAction[] {
  if (message.sender.type !== "user" || !message.mentionsBridge) return [];
  const text = message.textWithoutBridgeMention;
  const place = { chatId: message.chatId, replyTo: message.rootId ?? message.messageId };
  const reply = (body: string): RelayAction[] => [
    {
      kind: "post",
      place: { chatId: message.chatId, replyTo: message.messageId },
      text: body,
      uuid: postUuid(message.messageId, "re"),
    },
  ];

  let node: string | undefined;
  let content: string;
  if (TELL.test(text)) {
    const rest = text.replace(TELL, "");
    const [first = "", ...words] = rest.split(/\s+/);
    const name = first.replace(/^@/, "");
    content = words.join(" ").trim();
    const nodeNames = [...ctx.nodes.keys()].join(", ");
    if (!name || !content) return reply(ctx.t("tellUsage", { nodes: nodeNames }));
    node = ctx.nodes.has(name) ? name : ctx.book.nodeForName(name);
    if (!node) {
      const near = closestKey(name, [...ctx.nodes.keys()]);
      const suggestion = near ? ctx.t("didYouMean", { name: near }) : "";
      return reply(ctx.t("tellUnknownNode", { name, suggestion, nodes: nodeNames }));
    }
  } else {
    // `@bridge @<node> text`, for nodes without a bot of their own (Feishu resolved the @ to a name).
    const addressed = ctx.book.addressees(text);
    const target = addressed.find((a: Addressee) => !ctx.nodes.get(a.node)?.botName);
    if (!target) return [];
    node = target.node;
    content = text;
  }
  if (!node) return [];
  const refusal = accessRefusal(message.sender.openId, ctx);
  if (refusal) return reply(refusal);

  const target = ctx.nodes.get(node)!;
  const envelope = newEnvelope(ctx, {
    from: `user:${message.sender.openId}`,
    to: node,
    type: "message",
    content,
    hop: 0,
    conversation: message.rootId ?? message.messageId,
    // Feishu's message id makes a redelivered message the same envelope.
    id: `fs-${message.messageId}`,
  });
  if (!target.hasGateway) {
    return [{ kind: "append", envelope }, ...reply(ctx.t("mailboxOnly", { node }))];
  }
  return [
    {
      kind: "deliver",
      mirror: true,
      node,
      envelope,
      sessionKey: chatSessionKey(target.agentId, message.chatId, message.threadId),
      answer: { to: envelope.from, place },
    },
  ];
}

function accessRefusal(openId: string, ctx: RelayContext): string | undefined {
  const { dispatchers, admins } = ctx.access;
  if (dispatchers.includes(openId) || admins.includes(openId)) return undefined;
  if (dispatchers.length === 0 && admins.length === 0) return ctx.t("tellNobodyAllowed");
  return ctx.t("tellNotAllowed", {
    openId,
    admins: admins.length ? admins.join(", ") : ctx.t("noAdmins"),
  });
}
