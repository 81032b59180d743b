/** One sliding window of a rate budget: at most `limit` calls under `key` within any `windowMs`. */
export interface SharedLimitWindow {
  /** `app`, `chat:<chat id>` or `message:<message id>`: the same on every replica. */
  key: string;
  limit: number;
  windowMs: number;
}

/** Counted (settle `token` when the call's answer comes), or how long until all windows could have room. */
export type SharedLimitTake = { ok: true; token: string } | { ok: false; waitMs: number };

/**
 * Feishu's rate budgets kept where every replica of the bridge sees them (cluster mode:
 * cluster/'s `SharedRateLimiter` over Redis fits this shape; feishu/ does not import it).
 * The outbound queue takes these windows on top of its own, so several replicas together
 * stay within what one is allowed. Implementations must answer or fail within a short
 * time: the queue waits for them, and on a failure sends by its own limits only.
 */
export interface SharedLimits {
  /** Counts one call in every window at once if each has room; otherwise counts nothing. */
  take(windows: readonly SharedLimitWindow[]): Promise<SharedLimitTake>;
  /** The call's answer came (or it failed): from now on it counts from now, no longer as "on the wire". */
  settle(token: string, windows: readonly SharedLimitWindow[]): Promise<void>;
}
