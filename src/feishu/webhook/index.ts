/**
 * The Feishu webhook edge: body cap, decryption, signature, timestamp window and token
 * checks in front of the event and card-callback handlers.
 */
export { decryptFeishuPayload, feishuSignature, constantTimeEqual } from "./crypto.js";
export {
  verifyWebhookRequest,
  DEFAULT_TIMESTAMP_WINDOW_MS,
  type VerifyWebhookInput,
  type WebhookVerification,
  type WebhookChallenge,
  type WebhookEvent,
  type WebhookRejection,
  type WebhookRejectCode,
} from "./verify.js";
export { readWebhookBody, checkMediaType, DEFAULT_MAX_BODY_BYTES, type BodyReadResult } from "./body.js";
export { toFeishuCardAnswer, isCardActionPayload } from "./card-answer.js";
export { InFlight, type Settled } from "./in-flight.js";
export {
  webhookRoutes,
  FEISHU_EVENTS_PATH,
  FEISHU_CARDS_PATH,
  DEFAULT_CARD_ANSWER_TIMEOUT_MS,
  type WebhookMeta,
  type WebhookRoutes,
  type WebhookRoutesOptions,
} from "./routes.js";
