/** Counters since the queue was made (monotonic, for metrics) — see `OutboundStats`. */
export interface OutboundCounters {
  /** Messages posted (sends and replies, fallbacks included). */
  sent: number;
  /** Patch calls Feishu accepted. */
  patched: number;
  /** Patch cards replaced by a newer card before they were applied. */
  coalesced: number;
  /** Calls repeated after a failure (rate limits included). */
  retries: number;
  /** Calls Feishu answered with a rate limit. */
  rateLimited: number;
  /** Cards sent as their fallback text (rejected or too large). */
  fallbacks: number;
  /** Messages and patches cut to fit Feishu's size limits. */
  truncated: number;
  /** Sends and patches that were rejected to their caller (given up, refused, closed). */
  failed: number;
  /** Calls held back by the budget shared with other replicas (cluster mode), counted once per attempt. */
  sharedLimitWaits: number;
  /** Calls that went by this replica's own limits only because the shared budget could not be reached. */
  sharedLimitBypassed: number;
}

/** A snapshot of the queue. */
export interface OutboundStats extends OutboundCounters {
  /** Accepted work not on the wire right now: waiting for its turn, its slot or a retry. */
  queued: number;
  /** Calls waiting for Feishu's answer. */
  inFlight: number;
  /** Unfinished sends per chat (the one being sent included); chats with none are left out. */
  chats: Record<string, number>;
  /** Messages with a patch waiting or in progress. */
  patchingMessages: number;
}

export function emptyCounters(): OutboundCounters {
  return {
    sent: 0,
    patched: 0,
    coalesced: 0,
    retries: 0,
    rateLimited: 0,
    fallbacks: 0,
    truncated: 0,
    failed: 0,
    sharedLimitWaits: 0,
    sharedLimitBypassed: 0,
  };
}
