import type { SentMessage } from "../api.js";
import type { OutboundContent } from "../types.js";

/** One message for `OutboundQueue.send`. */
export interface OutboundSendRequest {
  /** The chat the message goes to; for a reply, the chat of the replied-to message (it orders the reply). */
  chatId: string;
  content: OutboundContent;
  /** Reply to this message instead of posting to the chat. */
  replyTo?: string;
  /** With `replyTo`: answer in the message's thread (topic). */
  replyInThread?: boolean;
  /** ≤ 50 chars; kept across every retry so Feishu posts at most once. Default: a new ULID. */
  uuid?: string;
  /** Where the full output lives (mailbox path, file): named in the notice when text is cut. */
  fullOutputRef?: string;
}

/** What Feishu posted. */
export interface OutboundSendResult extends SentMessage {
  chatId: string;
  /** The uuid of the message that was posted (for a card's fallback text, the derived one). */
  uuid: string;
  /** A card went out as its `fallbackText` (Feishu rejected it, or it was too large). */
  fellBackToText?: boolean;
  /** The text was cut to fit (or a too-large card was replaced); it ends with the notice. */
  truncated?: boolean;
}

/** Options of `OutboundQueue.patch`. */
export interface OutboundPatchOptions {
  /** The message's chat, for the log. */
  chatId?: string;
  /**
   * The live card's end state. The last card is always applied anyway (retried like a
   * send); `final` marks the end of the stream in the log and stays set when a later card
   * is coalesced into it.
   */
  final?: boolean;
  /** Named in the notice card that replaces a card over the size limit. */
  fullOutputRef?: string;
  /**
   * Asked right before a card that is not final goes out: `false` drops it (its callers
   * resolve). The one who asked no longer speaks for the message — the task layer stopped
   * here (among replicas, the "tasks" role moved on), and a "running" card still waiting
   * for its turn must not land after the new holder's final one.
   */
  stillCurrent?: () => boolean;
}

export interface OutboundCloseOptions {
  /** How long to keep sending what was queued before rejecting the rest. Default 10 s. */
  drainMs?: number;
}

/** How `close()` went. */
export interface OutboundCloseResult {
  /** Everything queued was sent (or failed on its own) within `drainMs`. */
  drained: boolean;
  /** Sends and patch calls rejected with `CB_FEISHU_QUEUE_CLOSED`. */
  abandoned: number;
  /** Calls still waiting for Feishu's answer when `close()` returned; their callers get that answer. */
  stillInFlight: number;
}
