import { RecentIds, contentHash, scrubStrings, systemClock, type Clock, type Logger } from "../core/index.js";
import { messageText } from "./frames.js";
import { parseSessionKey } from "./session-key.js";
import type { ObservedEvent, ObserveFilter } from "./types.js";

type Request = (method: string, params: unknown) => Promise<unknown>;

/**
 * Every session's `chat`/`agent` events on one gateway, handed to observers with the session
 * key parsed; and, after a reconnect, what was said meanwhile from `chat.history` — each
 * final message once, whether it was seen live or reconciled.
 */
export class SessionObserver {
  private readonly observers = new Map<(event: ObservedEvent) => void, ObserveFilter | undefined>();
  /** Sessions seen, with the time of their last final message. */
  private readonly sessionsSeen = new Map<string, number>();
  private readonly finalsSeen = new RecentIds(5_000);

  constructor(
    private readonly node: string,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly scrub?: (text: string) => string,
  ) {}

  observe(listener: (event: ObservedEvent) => void, filter?: ObserveFilter): () => void {
    this.observers.set(listener, filter);
    return () => this.observers.delete(listener);
  }

  /** A final message was seen (live): remembered so reconciliation does not repeat it. */
  noteFinal(sessionKey: string, runId: string | undefined, text: string, message: unknown): void {
    this.remember(sessionKey, runId, text, messageTimestamp(message));
  }

  private remember(sessionKey: string, runId: string | undefined, text: string, timestamp: number): void {
    this.finalsSeen.add(finalKey(sessionKey, runId, text, timestamp));
    this.sessionsSeen.set(sessionKey, Math.max(this.sessionsSeen.get(sessionKey) ?? 0, timestamp));
    if (this.sessionsSeen.size > 500) this.sessionsSeen.delete(this.sessionsSeen.keys().next().value!);
  }

  emit(event: Omit<ObservedEvent, "node" | "session" | "at">): void {
    let observed: ObservedEvent | undefined;
    const scrub = this.scrub;
    for (const [listener, filter] of this.observers) {
      if (filter && !wants(filter, event)) continue;
      observed ??= {
        ...event,
        // Listeners post and store what they see: an agent quoting a configured secret must not pass it on.
        ...(scrub ? { text: scrub(event.text), raw: scrubStrings(event.raw, scrub) } : {}),
        node: this.node,
        session: parseSessionKey(event.sessionKey),
        at: this.clock.now(),
      };
      try {
        listener(observed);
      } catch (error) {
        this.log.error({ err: error }, "an observer threw");
      }
    }
  }

  /**
   * After a reconnect: `chat.history` of the sessions already seen and of those the gateway
   * says changed since `since`; final messages not seen yet are emitted as reconciled.
   */
  async reconcile(request: Request, since: number): Promise<void> {
    const keys = new Set(this.sessionsSeen.keys());
    try {
      const listed = (await request("sessions.list", {})) as {
        sessions?: { key?: string; updatedAt?: number | null }[];
      };
      for (const session of listed.sessions ?? []) {
        if (session.key && (session.updatedAt ?? 0) >= since) keys.add(session.key);
      }
    } catch (error) {
      this.log.debug({ err: error }, "sessions.list failed; reconciling the sessions already known");
    }
    for (const sessionKey of keys) {
      try {
        const history = (await request("chat.history", { sessionKey, limit: 20 })) as {
          messages?: { role?: string; runId?: string; timestamp?: number }[];
        };
        const after = this.sessionsSeen.get(sessionKey) ?? since;
        for (const message of history.messages ?? []) {
          if (message.role !== "assistant") continue;
          const timestamp = messageTimestamp(message);
          const text = messageText(message);
          if (timestamp <= after) continue;
          if (this.finalsSeen.has(finalKey(sessionKey, message.runId, text, timestamp))) continue;
          this.remember(sessionKey, message.runId, text, timestamp);
          this.emit({
            kind: "chat",
            sessionKey,
            runId: message.runId,
            state: "final",
            text,
            raw: message,
            reconciled: true,
          });
        }
      } catch (error) {
        this.log.debug({ err: error, sessionKey }, "chat.history failed during reconciliation");
      }
    }
  }
}

function messageTimestamp(message: unknown): number {
  const value = (message ?? {}) as { timestamp?: unknown };
  if (typeof value.timestamp === "number") return value.timestamp;
  return typeof value.timestamp === "string" ? Date.parse(value.timestamp) || 0 : 0;
}

/** A run's final message is one fact however it is seen; without a run id, time and text identify it. */
function finalKey(sessionKey: string, runId: string | undefined, text: string, timestamp: number): string {
  return runId ? `${sessionKey}|run:${runId}` : `${sessionKey}|${timestamp}|${contentHash([text], 16)}`;
}

function wants(filter: ObserveFilter, event: Pick<ObservedEvent, "kind" | "state">): boolean {
  return (
    (!filter.kind || filter.kind === event.kind) && (!filter.states || filter.states.includes(event.state))
  );
}
