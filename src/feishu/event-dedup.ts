import path from "node:path";
import { contentHash, PersistentIdLog, systemClock, type Clock, type Logger } from "../core/index.js";

/** Feishu sometimes delivers one message twice with different ids; this is the window for that. */
export const CONTENT_WINDOW_MS = 10_000;

export type DedupVerdict = "claimed" | "duplicate" | "inflight";

export interface DedupKey {
  eventId: string;
  /** The message id, when the event is a message (two event ids for one message). */
  messageId?: string;
  /** sender + chat + text, for the same text arriving under two message ids. */
  content?: { senderId: string; chatId: string; text: string };
}

/**
 * What the intake needs of a dedup store. Answers may come at once (`EventDedup`, in this
 * process) or later (a store shared by several replicas, which asks Redis): callers await
 * every call either way.
 */
export interface EventDedupPort {
  load(): Promise<void>;
  /** Takes the event for handling, or says why not. */
  claim(key: DedupKey): DedupVerdict | Promise<DedupVerdict>;
  /** The event was handled: it is a duplicate from now on. */
  commit(key: DedupKey): Promise<void>;
  /** The handler failed: a redelivery may be handled. */
  release(key: DedupKey): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * Duplicate protection at the Feishu edge. An event is *claimed* before it is handled and
 * *committed* (persisted) only after the handler succeeded, so a crash in between means
 * the retry Feishu sends is handled again rather than lost. While a claim is open, the
 * same event is `inflight` (Feishu retried because we were slow).
 *
 * Persisted: event ids and message ids (`state.dir/feishu/events.log`, bounded). The
 * content window is in memory only — it is ten seconds long.
 */
export class EventDedup implements EventDedupPort {
  private readonly log: PersistentIdLog;
  private readonly inflight = new Set<string>();
  private readonly recentContent = new Map<string, number>();

  constructor(
    stateDir: string,
    private readonly options: { capacity?: number; windowMs?: number; clock?: Clock; logger?: Logger } = {},
  ) {
    this.log = new PersistentIdLog(
      path.join(stateDir, "feishu", "events.log"),
      options.capacity ?? 20_000,
      options.logger,
      // Events are handled one per callback; their ids go out together at the end of a turn.
      "turn",
    );
  }

  load(): Promise<void> {
    return this.log.load();
  }

  claim(key: DedupKey): DedupVerdict {
    const ids = idsOf(key);
    if (ids.some((id) => this.inflight.has(id))) return "inflight";
    if (ids.some((id) => this.log.has(id))) return "duplicate";
    if (key.content && this.seenContentRecently(key.content)) return "duplicate";
    for (const id of ids) this.inflight.add(id);
    return "claimed";
  }

  /** The event was handled: remember it for good (bounded). */
  async commit(key: DedupKey): Promise<void> {
    const ids = idsOf(key);
    try {
      await this.log.add(...ids);
    } finally {
      for (const id of ids) this.inflight.delete(id);
    }
  }

  /** The handler failed: let a redelivery try again. */
  release(key: DedupKey): void {
    for (const id of idsOf(key)) this.inflight.delete(id);
    if (key.content) this.recentContent.delete(contentKey(key.content));
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private seenContentRecently(content: NonNullable<DedupKey["content"]>): boolean {
    const now = (this.options.clock ?? systemClock).now();
    const window = this.options.windowMs ?? CONTENT_WINDOW_MS;
    // Expire old entries first; the map stays as small as ten seconds of traffic.
    for (const [k, at] of this.recentContent) {
      if (now - at <= window) break;
      this.recentContent.delete(k);
    }
    const k = contentKey(content);
    const at = this.recentContent.get(k);
    if (at !== undefined && now - at <= window) return true;
    this.recentContent.delete(k);
    this.recentContent.set(k, now);
    return false;
  }
}

function idsOf(key: DedupKey): string[] {
  return key.messageId ? [`e:${key.eventId}`, `m:${key.messageId}`] : [`e:${key.eventId}`];
}

function contentKey(content: NonNullable<DedupKey["content"]>): string {
  return contentHash([content.senderId, content.chatId, content.text]);
}
