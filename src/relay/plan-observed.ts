import type { ObservedEvent } from "../gateway/index.js";
import { isGroupSession } from "../gateway/index.js";
import type { RelayAction } from "./actions.js";
import { inertMentions } from "../core/index.js";
import { fold } from "./fold.js";
import { newEnvelope, postUuid, type RelayContext } from "./relay-context.js";
import { chatSessionKey } from "./session-keys.js";

/**
 * Node ↔ node in the group — the core route (ARCHITECTURE.md "Routes" 1). A node's agent
 * said something in its Feishu group session; other bots never receive it from Feishu.
 * When it addresses another node, that node gets it through its gateway (unless its
 * OpenClaw already hears bots), and its answer is posted in the chat as [node]. With
 * `relay.mirrorToChat` the chat first gets the compact audit line [A → B] …, and the answer
 * is threaded under it. Only the chats the bridge serves (`feishu.chats`) are relayed.
 *
 * Only final `chat` messages of Feishu group sessions count: clawbridge's own sessions
 * (`…:clawbridge:…`) are where answers are delivered, and what an agent says there is not
 * forwarded — so two agents do not talk forever by default.
 */
export function planFromObserved(event: ObservedEvent, ctx: RelayContext): RelayAction[] {
  if (event.kind !== "chat" || event.state !== "final" || !event.text.trim()) return [];
  if (!isGroupSession(event.session) || !event.session.chatId) return [];
  const speaker = event.node;
  const chatId = event.session.chatId;
  if (ctx.chats && ctx.chats.size > 0 && !ctx.chats.has(chatId)) return [];
  const actions: RelayAction[] = [];
  for (const { node } of ctx.book.addressees(event.text, { speaker })) {
    const target = ctx.nodes.get(node);
    if (!target || target.hearsBots) continue;
    const id = `ob-${speaker}-${event.runId ?? event.at}-${node}`
      .replace(/[^A-Za-z0-9_:.-]/g, "_")
      .slice(0, 128);
    const admission = ctx.guard.admit({ from: speaker, to: node, hop: 1, conversation: chatId });
    if (!admission.ok) {
      if (admission.announce) {
        actions.push({
          kind: "post",
          place: { chatId },
          text: ctx.describeStop(admission),
          uuid: postUuid(id, "stop"),
        });
      }
      continue;
    }
    const envelope = newEnvelope(ctx, {
      id,
      from: speaker,
      to: node,
      type: "message",
      content: event.text,
      hop: 1,
      conversation: chatId,
    });
    // The audit line goes first: its post is queued before the delivery, so it is sent before
    // any answer (posts to one chat go out in order) and the answer can thread under it.
    const audit = ctx.mirrorToChat ? postUuid(id, "au") : undefined;
    if (audit) {
      actions.push({
        kind: "post",
        place: { chatId },
        text: ctx.t("audit", { from: speaker, to: node, content: fold(inertMentions(event.text)) }),
        uuid: audit,
      });
    }
    if (!target.hasGateway) {
      actions.push({ kind: "append", envelope });
      continue;
    }
    actions.push({
      kind: "deliver",
      mirror: true,
      node,
      envelope,
      sessionKey: chatSessionKey(target.agentId, chatId, event.session.topicId),
      answer: { to: speaker, place: { chatId, ...(audit ? { replyToPost: audit } : {}) } },
    });
  }
  return actions;
}
