import type { RelayAction } from "./actions.js";
import { newEnvelope, postUuid, type RelayContext } from "./relay-context.js";
import { chatSessionKey } from "./session-keys.js";

/** A person's words for one node, as the `/tell` command (or `@bridge @<node> …`) understood them. */
export interface TellRequest {
  node: string;
  content: string;
  /** The person's open_id (as the bridge's app sees it). */
  senderOpenId: string;
  senderName?: string;
  chatId: string;
  /** The command message: the answer is threaded under it, and its id names the envelope. */
  messageId: string;
  rootId?: string;
  threadId?: string;
}

/**
 * Person → node (ARCHITECTURE.md "Routes" 2). The command layer has parsed the words and
 * checked access; this decides the delivery. A node with a gateway gets the text in its
 * session for this chat (and thread), its answer posted in the thread as [node]; a
 * mailbox-only node gets an inbox line, and its agent's answer line (`replyTo` = this
 * envelope's id) is posted back by the task layer, which remembers the thread.
 */
export function planTell(tell: TellRequest, ctx: RelayContext): RelayAction[] {
  const target = ctx.nodes.get(tell.node);
  if (!target) return [];
  const envelope = newEnvelope(ctx, {
    from: `user:${tell.senderOpenId}`,
    ...(tell.senderName ? { name: tell.senderName } : {}),
    to: tell.node,
    type: "message",
    content: tell.content,
    hop: 0,
    conversation: tell.rootId ?? tell.messageId,
    // Feishu's message id makes a redelivered message the same envelope.
    id: tellEnvelopeId(tell.messageId),
  });
  if (!target.hasGateway) {
    return [
      { kind: "append", envelope },
      {
        kind: "post",
        place: { chatId: tell.chatId, replyTo: tell.messageId },
        text: ctx.t("mailboxOnly", { node: tell.node }),
        uuid: postUuid(tell.messageId, "re"),
      },
    ];
  }
  return [
    {
      kind: "deliver",
      mirror: true,
      node: tell.node,
      envelope,
      sessionKey: chatSessionKey(target.agentId, tell.chatId, tell.threadId),
      answer: { to: envelope.from, place: { chatId: tell.chatId, replyTo: tell.rootId ?? tell.messageId } },
    },
  ];
}

/** The envelope id of a person's `/tell`: the same Feishu message is the same envelope. */
export function tellEnvelopeId(messageId: string): string {
  return `fs-${messageId}`.slice(0, 128);
}
