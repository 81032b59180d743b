/**
 * One transcript message, in the shape `chat.history` returns. openclaw 2026.9.6 carries the
 * run id of an assistant message in `__openclaw.runId` (checked against the real gateway).
 */
export interface HistoryMessage {
  role: "user" | "assistant";
  content: { type: "text"; text: string }[];
  timestamp: number;
  __openclaw?: { runId?: string };
}

interface Session {
  key: string;
  updatedAt: number;
  messages: HistoryMessage[];
}

/** Transcripts are capped per session, like any bounded store in clawbridge. */
const MAX_MESSAGES_PER_SESSION = 1_000;

/** The fake gateway's session transcripts (in memory). */
export class FakeSessions {
  private readonly sessions = new Map<string, Session>();

  append(key: string, message: HistoryMessage): void {
    let session = this.sessions.get(key);
    if (!session) {
      session = { key, updatedAt: message.timestamp, messages: [] };
      this.sessions.set(key, session);
    }
    session.messages.push(message);
    if (session.messages.length > MAX_MESSAGES_PER_SESSION) session.messages.shift();
    session.updatedAt = Math.max(session.updatedAt, message.timestamp);
  }

  /** The last `limit` messages of a session (copies; empty when unknown). */
  history(key: string, limit: number): HistoryMessage[] {
    const messages = this.sessions.get(key)?.messages ?? [];
    return (limit > 0 ? messages.slice(-limit) : []).map((m) => ({
      ...m,
      content: m.content.map((part) => ({ ...part })),
    }));
  }

  /** Sessions, most recently updated first. */
  list(): { key: string; updatedAt: number }[] {
    return [...this.sessions.values()]
      .map(({ key, updatedAt }) => ({ key, updatedAt }))
      .sort((a, b) => b.updatedAt - a.updatedAt);
  }

  get size(): number {
    return this.sessions.size;
  }
}
