import { isClawbridgeError, ClawbridgeError } from "../../core/index.js";
import { backoffDelay, type BackoffOptions } from "../../core/index.js";
import type { OutboundRetryOptions } from "./options.js";

/** Feishu's app-wide "request trigger frequency limit". */
export const APP_RATE_LIMIT_CODE = 99991400;

// Without `x-ogw-ratelimit-reset`, Feishu's windows are a second long: retrying sooner only
// burns another request against the same full window.
const MIN_RATE_LIMIT_WAIT_MS = 1000;

/** What to do after a failed call. */
export type RetryDecision =
  | { kind: "fatal" }
  | {
      kind: "retry";
      delayMs: number;
      /** Feishu said "too many requests" (as opposed to a 5xx or network failure). */
      rateLimited: boolean;
      /** The whole app is over its quota: every chat and message must wait, not only this one. */
      appWide: boolean;
    };

/**
 * Classifies a failed call (attempt is 0-based):
 *
 * - `CB_FEISHU_RATE_LIMITED`: wait `retryAfterMs` (from `x-ogw-ratelimit-reset`) or, without
 *   it, a backoff of at least 1 s; app-wide when `details.scope === "app"` or the code is
 *   99991400, else only the chat or message that hit its limit.
 * - any other `retryable` ClawbridgeError (5xx, network): jittered exponential backoff.
 * - anything else (rejected, auth, a bug): not retried.
 */
export function decideRetry(
  error: unknown,
  attempt: number,
  retry: OutboundRetryOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (!(error instanceof ClawbridgeError)) return { kind: "fatal" };
  const backoff: BackoffOptions = { baseMs: retry.baseMs, maxMs: retry.maxMs, factor: 2, jitter: 0.3 };
  if (isClawbridgeError(error, "CB_FEISHU_RATE_LIMITED")) {
    const appWide = error.details.scope === "app" || error.details.feishuCode === APP_RATE_LIMIT_CODE;
    const delayMs =
      error.retryAfterMs !== undefined && error.retryAfterMs > 0
        ? error.retryAfterMs
        : Math.max(
            MIN_RATE_LIMIT_WAIT_MS,
            backoffDelay(
              attempt,
              { ...backoff, baseMs: Math.max(retry.baseMs, MIN_RATE_LIMIT_WAIT_MS) },
              random,
            ),
          );
    return { kind: "retry", delayMs, rateLimited: true, appWide };
  }
  if (error.retryable) {
    return {
      kind: "retry",
      delayMs: backoffDelay(attempt, backoff, random),
      rateLimited: false,
      appWide: false,
    };
  }
  return { kind: "fatal" };
}
