import { systemClock, type Clock, type Logger } from "../../core/index.js";
import type { FeishuApi } from "../api.js";
import type { SharedLimits } from "./shared-limits.js";

/** Feishu's limits as the queue paces itself against them (see FEISHU-PLATFORM.md). */
export interface OutboundLimits {
  /** Sends + replies started per chat in any sliding second. Feishu: about 5 per chat for a bot. */
  perChatQps: number;
  /**
   * Patches started per message per second, spaced evenly (one every `1000 / qps` ms) so a
   * live card changes smoothly instead of in bursts. Feishu allows 5; a few is plenty to read.
   */
  perMessagePatchQps: number;
  /** Every call (send, reply, patch) started by the app in any sliding second. */
  appQps: number;
  /**
   * Most UTF-8 bytes of a text message's `content` as the request body carries it (JSON text
   * escaped once more as a string). Feishu allows 150 KiB of request body.
   */
  textMaxBytes: number;
  /** The same measure for a card's `content`. Feishu allows 30 KiB. */
  cardMaxBytes: number;
  /**
   * Added to every pacing window. Calls are counted from when their answer came back, which
   * is never before Feishu counted them, so no slack is needed (default 0); it is there for
   * a Feishu-side clock we cannot see.
   */
  pacingMarginMs: number;
}

/** How failed calls are retried. */
export interface OutboundRetryOptions {
  /** First backoff after a 5xx or network failure (jittered, doubling). */
  baseMs: number;
  /** Longest single backoff. */
  maxMs: number;
  /**
   * Stop retrying one message this long after its first attempt and reject it. Must stay
   * well inside Feishu's one-hour `uuid` window: after it, a retry could post twice.
   */
  giveUpAfterMs: number;
}

/** Text appended where a message was cut; `pointer` says where the full output is. */
export type TruncationNotice = (pointer?: string) => string;

export interface OutboundQueueOptions {
  api: FeishuApi;
  logger: Logger;
  /** Wall time for pacing windows and give-up deadlines; sleeps are real timers. */
  clock?: Clock;
  limits?: Partial<OutboundLimits>;
  retry?: Partial<OutboundRetryOptions>;
  /** Localised notice for cut text; defaults to English. */
  truncationNotice?: TruncationNotice;
  /**
   * Budgets shared with the other replicas (cluster mode): every call also takes the same
   * app-wide, per-chat and per-message windows there. Without it the limits are this process's.
   */
  sharedLimits?: SharedLimits;
}

// The request body wraps `content` with receive_id, msg_type and uuid (~200 bytes); the
// margin keeps a text at the limit from tipping the whole body over Feishu's 150 KiB.
const TEXT_ENVELOPE_MARGIN = 2 * 1024;

export const DEFAULT_OUTBOUND_LIMITS: Readonly<OutboundLimits> = {
  perChatQps: 5,
  perMessagePatchQps: 4,
  appQps: 50,
  textMaxBytes: 150 * 1024 - TEXT_ENVELOPE_MARGIN,
  cardMaxBytes: 30 * 1024,
  pacingMarginMs: 0,
};

export const DEFAULT_OUTBOUND_RETRY: Readonly<OutboundRetryOptions> = {
  baseMs: 500,
  maxMs: 30_000,
  giveUpAfterMs: 50 * 60_000,
};

/** "… (truncated — full output: <pointer>)", or "… (truncated)" without a pointer. */
export const defaultTruncationNotice: TruncationNotice = (pointer) =>
  pointer ? `… (truncated — full output: ${pointer})` : "… (truncated)";

/** Options with every default filled in. */
export interface ResolvedOutboundOptions {
  api: FeishuApi;
  logger: Logger;
  clock: Clock;
  limits: OutboundLimits;
  retry: OutboundRetryOptions;
  truncationNotice: TruncationNotice;
  sharedLimits?: SharedLimits;
}

/** Fills defaults and refuses limits that would stall the queue (a zero QPS never sends). */
export function resolveOutboundOptions(options: OutboundQueueOptions): ResolvedOutboundOptions {
  const limits = { ...DEFAULT_OUTBOUND_LIMITS, ...definedOnly(options.limits) };
  const retry = { ...DEFAULT_OUTBOUND_RETRY, ...definedOnly(options.retry) };
  for (const key of ["perChatQps", "perMessagePatchQps", "appQps", "textMaxBytes", "cardMaxBytes"] as const) {
    if (!(limits[key] > 0))
      throw new RangeError(`outbound limits.${key} must be positive, got ${limits[key]}`);
  }
  if (!(limits.pacingMarginMs >= 0)) throw new RangeError("outbound limits.pacingMarginMs must be ≥ 0");
  for (const key of ["baseMs", "maxMs", "giveUpAfterMs"] as const) {
    if (!(retry[key] > 0)) throw new RangeError(`outbound retry.${key} must be positive, got ${retry[key]}`);
  }
  return {
    api: options.api,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    limits,
    retry,
    truncationNotice: options.truncationNotice ?? defaultTruncationNotice,
    ...(options.sharedLimits ? { sharedLimits: options.sharedLimits } : {}),
  };
}

// `{perChatQps: undefined}` (an unset config key) must not wipe out the default.
function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
