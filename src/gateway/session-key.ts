/**
 * Session keys: `agent:<agentId>:<rest>`. OpenClaw's Feishu channel uses
 * `agent:<agentId>:feishu:group:<chat_id>[:topic:<thread_id>][:sender:<open_id>]`; ids may be
 * lower-cased upstream, so callers compare them ignoring case.
 */
export interface ParsedSessionKey {
  raw: string;
  agentId?: string;
  /** `feishu`, `clawbridge`, … (the first part after the agent id). */
  channel?: string;
  /** `group`, `dm`, … for channel sessions. */
  kind?: string;
  /** The Feishu chat id (`oc_…`) of a group session. */
  chatId?: string;
  topicId?: string;
  senderId?: string;
  /** Everything after `agent:<agentId>:`. */
  rest?: string;
}

export function parseSessionKey(raw: string): ParsedSessionKey {
  const parts = raw.split(":");
  if (parts[0] !== "agent" || parts.length < 3 || !parts[1]) return { raw };
  const parsed: ParsedSessionKey = {
    raw,
    agentId: parts[1],
    rest: parts.slice(2).join(":"),
    channel: parts[2],
  };
  if (parts[2] === "feishu" || parts[2] === "lark") {
    parsed.kind = parts[3];
    if (parts[3] === "group" && parts[4]) parsed.chatId = parts[4];
    for (let i = 5; i + 1 < parts.length; i += 2) {
      if (parts[i] === "topic") parsed.topicId = parts[i + 1];
      else if (parts[i] === "sender") parsed.senderId = parts[i + 1];
    }
  }
  return parsed;
}

/** Whether a parsed key is a node's Feishu group session for `chatId` (ids compared ignoring case). */
export function isGroupSession(session: ParsedSessionKey, chatId?: string): boolean {
  return (
    session.channel === "feishu" &&
    session.kind === "group" &&
    session.chatId !== undefined &&
    (chatId === undefined || session.chatId.toLowerCase() === chatId.toLowerCase())
  );
}
