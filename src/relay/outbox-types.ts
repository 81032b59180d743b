import type { Clock, Logger } from "../core/index.js";
import type { OutboxSource } from "./outbox-journal.js";

/** One piece of work waiting for its target. */
export interface OutboxItem<T = unknown> {
  /** The envelope id: the idempotency key downstream, and what `put` deduplicates by. */
  id: string;
  /** JSON-serialisable; stored as JSON, so what comes back after a restart is a plain copy. */
  payload: T;
  /** The mailbox line it came from, when it came from one. */
  source?: OutboxSource;
  enqueuedAt: number;
  /** Delivery attempts so far (counted in memory: a restart starts again from the stored value). */
  attempts: number;
  /** In memory only: why the last attempt failed. */
  lastError?: string;
  /** In memory only: when the last attempt was made. */
  lastAttemptAt?: number;
  /**
   * In memory only (shared outboxes): taken before by a consumer that did not finish it (a
   * replica lost, or this one before a restart): its effect may have happened already.
   */
  redelivered?: boolean;
}

/** `overflow`: the outbox is full and the item was NOT queued — the caller says so to someone. */
export type PutResult = "queued" | "duplicate" | "overflow";

export interface OutboxOptions<T = unknown> {
  /** `state.dir/outbox`. */
  dir: string;
  /** A node name, or e.g. `feishu:<chat>`. */
  target: string;
  /** Most items pending at once (`relay.outboxPerNode`). */
  capacity: number;
  /** How many done ids are remembered to answer `duplicate`; default ten times `capacity`. */
  rememberDone?: number;
  logger?: Logger;
  clock?: Clock;
  /**
   * Items of one lane are delivered in order, one at a time (a gateway session, an inbox, a
   * chat). Given, the outbox indexes its items by lane so `laneHeads` costs the number of
   * lanes, not the number of items waiting.
   */
  laneOf?: (payload: T) => string;
}

/** An item's id with the mailbox line it came from, pending or done-and-remembered. */
export interface SourcedId {
  id: string;
  source: OutboxSource;
  /** Enqueue order, stable across restarts. */
  seq: number;
}

export interface OutboxStats {
  target: string;
  pending: number;
  capacity: number;
  /** Journal writes: appends (one per group commit) and rewrites. */
  writes: number;
  compactions: number;
  /** Lines in the journal now. */
  lines: number;
}
