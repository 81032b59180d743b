import { CLAWBRIDGE_SOURCE, inertMentions, type Envelope } from "../core/index.js";
import type { RelayAction } from "./actions.js";
import { fold } from "./fold.js";
import { postUuid, type RelayContext } from "./relay-context.js";
import { mailboxSessionKey } from "./session-keys.js";

/**
 * Mailbox → node (ARCHITECTURE.md "Routes" 3): a line someone else wrote in
 * `to-<node>.jsonl` goes to that node's gateway, and `relay.auditChat` gets one line
 * [A → B] … Lines clawbridge wrote itself (mirrors, answers) are never routed again.
 * A mailbox-only node reads its inbox itself: only the audit line is ours to write.
 */
export function planFromMailbox(envelope: Envelope, ctx: RelayContext): RelayAction[] {
  if (envelope.source === CLAWBRIDGE_SOURCE || envelope.delivered) return [];
  const target = ctx.nodes.get(envelope.to);
  const actions: RelayAction[] = [];
  const from = envelope.from;
  if (target?.hasGateway && from !== envelope.to) {
    const hop = ctx.guard.hopAfter(envelope);
    const admission = ctx.guard.admit({ from, to: envelope.to, hop, conversation: envelope.conversation });
    if (!admission.ok) {
      if (admission.announce && ctx.auditChat) {
        actions.push({
          kind: "post",
          place: { chatId: ctx.auditChat },
          text: ctx.describeStop(admission),
          uuid: postUuid(envelope.id, "stop"),
        });
      }
      return actions;
    }
    actions.push({
      kind: "deliver",
      mirror: false,
      node: envelope.to,
      envelope: { ...envelope, hop },
      sessionKey: mailboxSessionKey(target.agentId, from),
      // The answer is audited like the question (SCENARIOS.md §2: [ai-pc → office-mac] …).
      answer: {
        to: from,
        ...(ctx.auditChat && ctx.mirrorToChat
          ? { place: { chatId: ctx.auditChat }, label: "pair" as const }
          : {}),
      },
    });
  }
  if (ctx.auditChat && ctx.mirrorToChat) {
    actions.push({
      kind: "post",
      place: { chatId: ctx.auditChat },
      text: ctx.t("audit", { from, to: envelope.to, content: fold(inertMentions(envelope.content)) }),
      uuid: postUuid(envelope.id, "au"),
    });
  }
  return actions;
}
