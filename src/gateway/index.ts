export type {
  GatewayClient,
  GatewayHealth,
  LinkState,
  ObservedEvent,
  PairingInfo,
  RunAgentRequest,
  RunEvent,
  RunHandle,
  RunResult,
  StateListener,
} from "./types.js";
export { WsGatewayClient, type WsGatewayClientOptions } from "./ws-gateway-client.js";
export {
  loadOrCreateIdentity,
  identityFromPrivateKey,
  verifyDeviceSignature,
  deviceAuthPayload,
  deviceIdOf,
  rawPublicKey,
  type DeviceIdentity,
} from "./device-identity.js";
export { DeviceTokenStore } from "./device-tokens.js";
export { parseSessionKey, isGroupSession, type ParsedSessionKey } from "./session-key.js";
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../core/index.js";
export { approveCommand, DEFAULT_GATEWAY_PORT } from "./gateway-errors.js";
export * from "./frames.js";
