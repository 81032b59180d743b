/**
 * The Feishu edge — the only code that knows Feishu. Everything goes through the official
 * `@larksuiteoapi/node-sdk`: intake (long connection or webhook), dedup, the outbound
 * queue, mentions, and the checks `doctor` runs.
 */
export * from "./types.js";
export * from "./api.js";
export { classifyFeishuError, classifyFeishuBody } from "./feishu-errors.js";
export { sdkLogger, type SdkLogger } from "./sdk-logger.js";
export {
  SdkFeishuApi,
  createLarkClient,
  domainUrl,
  larkDomain,
  DEFAULT_FEISHU_TIMEOUT_MS,
  type FeishuAppOptions,
} from "./sdk-api.js";
export {
  normalizeMessageEvent,
  normalizeCardAction,
  UnreadableEvent,
  type NormalizeContext,
} from "./normalize.js";
export {
  EventDedup,
  CONTENT_WINDOW_MS,
  type DedupKey,
  type DedupVerdict,
  type EventDedupPort,
} from "./event-dedup.js";
export { BotDirectory, type NodeBot } from "./bot-directory.js";
export { FeishuIntake, HANDLER_ACK_BUDGET_MS, type IntakeOptions, type IntakeStats } from "./intake.js";
export { LongConnection, LONG_CONNECTION_APP_ID, type LongConnectionState } from "./long-connection.js";
export { probeFeishu, BOT_ACTIVE, type FeishuProbe, type FeishuProbeInput, type Outcome } from "./probe.js";
export * from "./webhook/index.js";
export * from "./outbound/index.js";
export {
  FeishuAdapter,
  chatLink,
  intakeUp,
  type FeishuAdapterOptions,
  type FeishuHealth,
} from "./feishu-adapter.js";
export { feishuMessages, type FeishuMessageKey } from "./messages.js";
