import type { Envelope } from "../core/index.js";

/** Where in the group something is said: a chat, and the message to thread it under. */
export interface ChatPlace {
  chatId: string;
  /** Message id to reply to (keeps a conversation in one thread). */
  replyTo?: string;
  /**
   * Reply to an earlier post of ours, named by its `uuid`, whose message id is not known when
   * planning (an audit line and the answer threaded under it). Posts to one chat go out in
   * order, so the earlier one has been sent by then; its id is looked up at sending. Unknown
   * (the bridge restarted in between, or that post failed): posted in the chat unthreaded.
   */
  replyToPost?: string;
}

/** Whom the answer to a delivered envelope goes back to. */
export interface AnswerRoute {
  /** The sender as a node (inbox, gateway session) or a person (`user:<open_id>`). */
  to: string;
  /** Where the answer is posted in the group, signed as the answering node. */
  place?: ChatPlace;
  /** How it is signed: `[node] …` (default) or, for mailbox traffic, `[node → sender] …` folded. */
  label?: "node" | "pair";
}

/**
 * Hand an envelope to a node's gateway (through its persisted outbox). The envelope id is
 * the gateway's idempotency key, so a retried delivery never runs twice.
 */
export interface DeliverAction {
  kind: "deliver";
  node: string;
  envelope: Envelope;
  sessionKey: string;
  answer?: AnswerRoute;
  /**
   * Append the delivered envelope to the addressee's inbox, marked `delivered: "gateway"`
   * (the folder is the full record). False when the envelope came from that inbox already.
   */
  mirror: boolean;
  /** How often a dead letter of this delivery was put back (`clawbridge state retry`). */
  retries?: number;
}

/** Append an envelope to `to-<envelope.to>.jsonl` (mirror, answers, mailbox-only nodes). */
export interface AppendAction {
  kind: "append";
  envelope: Envelope;
}

/** Say something in a chat (audit lines, answers, refusals, loop stops). */
export interface PostAction {
  kind: "post";
  place: ChatPlace;
  text: string;
  /** Feishu's idempotency key for this post (≤ 50 chars): derived from the envelope id. */
  uuid: string;
  /** A person to @mention before the text (a finished task's requester); `text` itself stays plain. */
  mention?: { openId: string; name?: string };
}

/** What a route decided; the relay carries the actions out in order. */
export type RelayAction = DeliverAction | AppendAction | PostAction;
