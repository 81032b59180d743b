/**
 * Session keys of the sessions clawbridge opens on a node's gateway (ARCHITECTURE.md,
 * "Routes"). One run at a time per key, so a conversation keeps its context and two chats
 * never share one.
 */

/** A person or node talking to `agentId` in a Feishu chat (and thread): `agent:<id>:clawbridge:<chat>[:<thread>]`. */
export function chatSessionKey(agentId: string, chatId: string, threadId?: string): string {
  return `agent:${agentId}:clawbridge:${chatId}${threadId ? `:${threadId}` : ""}`;
}

/** Mailbox traffic from `sender`: `agent:<id>:clawbridge:from-<sender>`. */
export function mailboxSessionKey(agentId: string, sender: string): string {
  return `agent:${agentId}:clawbridge:from-${sanitize(sender)}`;
}

/** A dispatched task: `agent:<id>:clawbridge:task-<taskId>`. */
export function taskSessionKey(agentId: string, taskId: string): string {
  return `agent:${agentId}:clawbridge:task-${sanitize(taskId)}`;
}

/** `user:ou_…` and other senders become one key segment (no `:` inside a segment). */
function sanitize(part: string): string {
  return part.replace(/:/g, "-");
}
