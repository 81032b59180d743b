/**
 * The loopback Feishu (Lark) Open Platform emulator: start it, point the real SDK's
 * `domain` at `emulator.url`, drive people and bots from tests or the demo.
 */
export { FeishuEmulator, startFeishuEmulator } from "./emulator.js";
export {
  decryptWebhookBody,
  encryptWebhookBody,
  signWebhook,
  webhookRequest,
  type WebhookRequest,
} from "./crypto.js";
export { REFUSALS, type Refusal } from "./codes.js";
export { DEFAULT_LIMITS } from "./limits.js";
export { INVALID_CARD_MARKER } from "./content.js";
export { decodeFrame, encodeFrame, type Frame, type FrameHeader } from "./frame-codec.js";
export type { ClientConfig } from "./long-connection.js";
export type * from "./types.js";
