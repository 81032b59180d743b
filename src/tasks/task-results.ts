import { CLAWBRIDGE_SOURCE, nodeKey, type Envelope } from "../core/index.js";
import { mailboxSessionKey, type RelayAction } from "../relay/index.js";
import type { Task, TaskRequester } from "./types.js";

/** How a requester appears in envelopes: `user:<open_id>` for a person, the node's name for an agent. */
export function requesterAddress(requester: TaskRequester): string {
  return requester.kind === "user" ? `user:${requester.openId}` : requester.node;
}

/** How a requester is named to people. */
export function requesterLabel(requester: TaskRequester): string {
  return requester.kind === "user" ? (requester.name ?? requester.openId) : requester.node;
}

/** What the node's agent reads: which task, from whom, then the prompt. */
export function promptFor(task: Task): string {
  return `[clawbridge] task ${task.id} from ${requesterLabel(task.requestedBy)}:\n\n${task.prompt}`;
}

export interface ResultContext {
  /** `mailbox.self`: people's results go to the bridge's own inbox (people have none). */
  self: string;
  nodes: ReadonlyMap<string, { name: string; agentId: string }>;
  hasGateway: (node: string) => boolean;
  timestamp: string;
  /** The final message's words, after the @mention. */
  finalText: string;
}

/**
 * What a finished task leaves behind (ARCHITECTURE.md "Shared folder", SCENARIOS.md §1): a
 * `result` envelope to the requester — a person's to the bridge's own inbox, an agent's to
 * its node's inbox, or into its gateway session when it has one (mirrored to the inbox) —
 * and, for a person, the final message in the chat that @mentions them. Ids derive from the
 * task's envelope id, so doing it twice (after a crash) writes and posts it once.
 */
export function taskResultActions(task: Task, ctx: ResultContext): RelayAction[] {
  const actions: RelayAction[] = [];
  const content =
    task.state === "done"
      ? task.output
      : `[${task.state}] ${task.reason ?? ""}${task.output ? `\n\n${task.output}` : ""}`;
  const requester = task.requestedBy;
  const agentNode = requester.kind === "agent" ? ctx.nodes.get(nodeKey(requester.node)) : undefined;
  const envelope = (fields: Omit<Envelope, "timestamp" | "source" | "id">): Envelope =>
    ({
      ...fields,
      id: `re-${task.envelopeId}`.slice(0, 128),
      timestamp: ctx.timestamp,
      source: CLAWBRIDGE_SOURCE,
    }) as Envelope;
  if (task.state !== "cancelled" || requester.kind === "agent") {
    const result = envelope({
      from: task.node ?? ctx.self,
      to: agentNode ? agentNode.name : ctx.self,
      type: "result",
      content,
      replyTo: task.sourceEnvelopeId ?? task.envelopeId,
      taskId: task.id,
    });
    if (agentNode && task.node && ctx.hasGateway(agentNode.name)) {
      actions.push({
        kind: "deliver",
        mirror: true,
        node: agentNode.name,
        envelope: result,
        sessionKey: mailboxSessionKey(agentNode.agentId, task.node),
      });
    } else {
      actions.push({ kind: "append", envelope: result });
    }
  }
  if (task.place && requester.kind === "user") {
    actions.push({
      kind: "post",
      place: { chatId: task.place.chatId, ...(task.place.replyTo ? { replyTo: task.place.replyTo } : {}) },
      text: ctx.finalText,
      uuid: `fin-${task.envelopeId}`.slice(0, 50),
      mention: { openId: requester.openId, ...(requester.name ? { name: requester.name } : {}) },
    });
  }
  return actions;
}
