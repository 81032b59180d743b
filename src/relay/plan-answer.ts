import { CLAWBRIDGE_SOURCE, inertMentions, NODE_NAME_PATTERN } from "../core/index.js";
import type { AnswerRoute, DeliverAction, RelayAction } from "./actions.js";
import { fold } from "./fold.js";
import { newEnvelope, postUuid, type RelayContext } from "./relay-context.js";
import { mailboxSessionKey } from "./session-keys.js";

/**
 * Answers (ARCHITECTURE.md "Routes" 4): what a node answered to a delivered envelope goes
 * back to the sender — an inbox line with `replyTo` and `hop + 1` (people have no inbox:
 * theirs goes to the bridge's own), the sender's gateway session when it is a node, and the
 * group thread signed [node].
 */
export function planAnswer(delivered: DeliverAction, text: string, ctx: RelayContext): RelayAction[] {
  const answer: AnswerRoute | undefined = delivered.answer;
  if (!answer || !text.trim()) return [];
  const { envelope } = delivered;
  const hop = (envelope.hop ?? 0) + 1;
  const senderIsNode =
    NODE_NAME_PATTERN.test(answer.to) && answer.to !== ctx.self && ctx.nodes.has(answer.to);
  const reply = newEnvelope(ctx, {
    id: `re-${envelope.id}`.slice(0, 128),
    from: delivered.node,
    to: senderIsNode ? answer.to : ctx.self,
    type: envelope.type === "task" ? "result" : "message",
    content: text,
    replyTo: envelope.id,
    hop,
    ...(envelope.conversation ? { conversation: envelope.conversation } : {}),
    ...(envelope.taskId ? { taskId: envelope.taskId } : {}),
  });
  const actions: RelayAction[] = [];
  const sender = senderIsNode ? ctx.nodes.get(answer.to) : undefined;
  if (sender?.hasGateway) {
    // Into the sender's session; the guard stops two agents answering each other forever.
    const admission = ctx.guard.admit({
      from: delivered.node,
      to: answer.to,
      hop,
      conversation: envelope.conversation,
    });
    if (admission.ok) {
      actions.push({
        kind: "deliver",
        mirror: true,
        node: answer.to,
        envelope: { ...reply, source: CLAWBRIDGE_SOURCE },
        sessionKey: mailboxSessionKey(sender.agentId, delivered.node),
      });
    } else if (admission.announce && answer.place) {
      actions.push({
        kind: "post",
        place: answer.place,
        text: ctx.describeStop(admission),
        uuid: postUuid(reply.id, "stop"),
      });
    }
  } else {
    actions.push({ kind: "append", envelope: reply });
  }
  if (answer.place && ctx.mirrorToChat) {
    actions.push({
      kind: "post",
      place: answer.place,
      text:
        answer.label === "pair"
          ? ctx.t("audit", { from: delivered.node, to: answer.to, content: fold(inertMentions(text)) })
          : ctx.t("answer", { node: delivered.node, text: inertMentions(text) }),
      uuid: postUuid(reply.id, "an"),
    });
  }
  return actions;
}
