import { newIds } from "./ids.js";
import type { EmulatedMessage, MessageChange, PatchRecord } from "./types.js";

/** Feishu sends at most one message per (app, uuid) within an hour. */
export const UUID_WINDOW_MS = 60 * 60_000;
/** Messages kept; the oldest go first (a long benchmark must not grow without bound). */
const MAX_MESSAGES = 200_000;

export type NewMessage = Omit<
  EmulatedMessage,
  "messageId" | "patches" | "createdAt" | "updatedAt" | "threadId"
> & {
  threadId?: string;
  /** Reply in a thread: use the parent's thread or open one. */
  replyInThread?: boolean;
};

/** Every message of the tenant, in creation order, with uuid dedup and threads. */
export class MessageStore {
  private readonly byId = new Map<string, EmulatedMessage>();
  private readonly uuids = new Map<string, { messageId: string; at: number }>();
  private readonly listeners = new Set<(change: MessageChange) => void>();

  /**
   * Calls `listener` after every message created and every card replaced (the demo page
   * follows the group live); returns the function that stops it.
   */
  onChange(listener: (change: MessageChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The message an earlier call with the same app + uuid created within the hour. */
  byUuid(appId: string, uuid: string, now = Date.now()): EmulatedMessage | undefined {
    const hit = this.uuids.get(`${appId}\u0000${uuid}`);
    if (!hit || now - hit.at > UUID_WINDOW_MS) return undefined;
    return this.byId.get(hit.messageId);
  }

  create(input: NewMessage, now = Date.now()): EmulatedMessage {
    const { replyInThread, ...fields } = input;
    const parent = input.parentId ? this.byId.get(input.parentId) : undefined;
    let threadId = input.threadId ?? parent?.threadId;
    if (!threadId && replyInThread && parent) {
      // Opening a thread marks its root as well, as Feishu's message.get shows.
      threadId = newIds.thread();
      const root = this.byId.get(parent.rootId ?? parent.messageId) ?? parent;
      root.threadId = threadId;
      parent.threadId = threadId;
    }
    const message: EmulatedMessage = {
      ...fields,
      messageId: newIds.message(),
      rootId: input.rootId ?? (parent ? (parent.rootId ?? parent.messageId) : undefined),
      threadId,
      patches: [],
      createdAt: now,
      updatedAt: now,
    };
    this.byId.set(message.messageId, message);
    if (input.uuid && input.senderAppId) {
      this.uuids.set(`${input.senderAppId}\u0000${input.uuid}`, { messageId: message.messageId, at: now });
    }
    this.trim(now);
    this.emit({ kind: "created", messageId: message.messageId, chatId: message.chatId });
    return message;
  }

  get(messageId: string): EmulatedMessage | undefined {
    return this.byId.get(messageId);
  }

  /** Replaces a card's content and records the change. */
  patch(messageId: string, content: unknown, via: PatchRecord["via"], now = Date.now()): void {
    const message = this.byId.get(messageId);
    if (!message) return;
    message.content = content;
    message.updatedAt = now;
    message.patches.push({ at: now, via, content });
    this.emit({ kind: "patched", messageId, chatId: message.chatId });
  }

  /** All messages (of one chat), oldest first, as copies. */
  list(chatId?: string): EmulatedMessage[] {
    const out: EmulatedMessage[] = [];
    for (const m of this.byId.values()) if (!chatId || m.chatId === chatId) out.push(copy(m));
    return out;
  }

  copy(messageId: string): EmulatedMessage | undefined {
    const m = this.byId.get(messageId);
    return m ? copy(m) : undefined;
  }

  private emit(change: MessageChange): void {
    for (const listener of this.listeners) {
      // A watcher's failure must never fail the Open API call or the emit that changed the store.
      try {
        listener(change);
      } catch {
        /* the watcher's own business */
      }
    }
  }

  private trim(now: number): void {
    while (this.byId.size > MAX_MESSAGES) {
      const oldest = this.byId.keys().next().value as string;
      this.byId.delete(oldest);
    }
    if (this.uuids.size > MAX_MESSAGES) {
      for (const [key, hit] of this.uuids) if (now - hit.at > UUID_WINDOW_MS) this.uuids.delete(key);
    }
  }
}

function copy(m: EmulatedMessage): EmulatedMessage {
  return structuredClone(m);
}
