export { OutboundQueue } from "./outbound-queue.js";
export type {
  OutboundSendRequest,
  OutboundSendResult,
  OutboundPatchOptions,
  OutboundCloseOptions,
  OutboundCloseResult,
} from "./outbound-types.js";
export type { OutboundStats, OutboundCounters } from "./outbound-stats.js";
export {
  DEFAULT_OUTBOUND_LIMITS,
  DEFAULT_OUTBOUND_RETRY,
  defaultTruncationNotice,
  type OutboundLimits,
  type OutboundRetryOptions,
  type OutboundQueueOptions,
  type TruncationNotice,
} from "./options.js";
export { fitText, type FittedText, type FitTextOptions } from "./truncate-text.js";
export { payloadBytes, textPayloadBytes } from "./payload-bytes.js";
export { withUpdateMulti, noticeCard } from "./card-json.js";
export { textFallbackUuid, MAX_UUID_LENGTH } from "./send-uuid.js";
export type { SharedLimits, SharedLimitTake, SharedLimitWindow } from "./shared-limits.js";
export { decideRetry, APP_RATE_LIMIT_CODE, type RetryDecision } from "./retry-policy.js";
