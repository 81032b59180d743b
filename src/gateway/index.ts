/**
 * The OpenClaw gateway module: one `WsGatewayClient` per node.
 *
 * The link's states (`LinkState`, shown by `health()`), and what moves between them:
 *
 *   idle ──start()──▶ connecting
 *
 *   connecting ──hello-ok──────────────────────────────────────────▶ connected
 *   connecting ──no answer: socket error or close, handshake
 *                timeout, bad hello, a refusal like UNAVAILABLE──▶ backoff
 *   connecting ──refused NOT_PAIRED / PAIRING_REQUIRED─────────────▶ pairing
 *   connecting ──refused AUTH_* (a stored device token is tried
 *                first, through backoff, after AUTH_TOKEN_MISMATCH)─▶ auth-failed
 *   connecting ──refused PROTOCOL_MISMATCH, or closed with 1002──▶ protocol-mismatch
 *
 *   connected ──socket closed, or silent for tickInterval × grace──▶ backoff
 *
 *   backoff ─────────── after the backoff delay (never before a gateway's retryAfterMs) ──▶ connecting
 *   pairing ─────────── every pairingRetryMs (≤ 30 s), so the request id stays current ──▶ connecting
 *   auth-failed ─────── after the backoff delay ──────────────────────────────────────────▶ connecting
 *   protocol-mismatch ─ after the backoff's cap ──────────────────────────────────────────▶ connecting
 *
 *   any state ──stop()──▶ stopped ──start()──▶ connecting
 *
 * While waiting for the next attempt a refused state stays as it is (it does not turn into
 * backoff), so `health()` keeps saying what a person must fix; every `ready()` waiter is
 * rejected with the refusal as soon as it arrives.
 */
export type {
  AttachRunRequest,
  GatewayClient,
  GatewayHealth,
  LinkState,
  ObservedEvent,
  ObserveFilter,
  PairingInfo,
  RunAgentRequest,
  RunEvent,
  RunHandle,
  RunResult,
  StateListener,
} from "./types.js";
export { WsGatewayClient } from "./ws-gateway-client.js";
export type { WsGatewayClientOptions } from "./client-options.js";
export {
  DEVICE_IDENTITY_VERSION,
  loadOrCreateIdentity,
  identityFromPrivateKey,
  verifyDeviceSignature,
  deviceAuthPayload,
  deviceIdOf,
  rawPublicKey,
  type DeviceIdentity,
} from "./device-identity.js";
export { DeviceTokenStore, type DeviceTokens, type StoredToken } from "./device-tokens.js";
export { parseSessionKey, isGroupSession, type ParsedSessionKey } from "./session-key.js";
export { approveCommand, DEFAULT_GATEWAY_PORT } from "./gateway-errors.js";
export { classifyRefusal, refusalOf, type Refusal, type RefusalShape } from "./refusal.js";
export { gatewayMessages, type GatewayMessageKey } from "./messages.js";
export * from "./frames.js";
