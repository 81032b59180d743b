import os from "node:os";
import { deviceAuthPayload, type DeviceIdentity } from "./device-identity.js";
import { PROTOCOL_VERSION, type ConnectParams } from "./frames.js";

export const CLIENT_ID = "gateway-client";
export const CLIENT_MODE = "backend";
export const ROLE = "operator";
export const DEFAULT_SCOPES = ["operator.read", "operator.write"];

export interface ConnectInput {
  identity: DeviceIdentity;
  nonce: string;
  /** The challenge's `ts`, signed as `signedAt`. */
  ts: number;
  /** The shared gateway token (`gateway.auth.token`), when configured. */
  token?: string;
  /** A device token this gateway issued earlier, when there is one. */
  deviceToken?: string;
  /** Send the device token along with the shared token (after a token mismatch). */
  preferDeviceToken: boolean;
  scopes?: string[];
  clientVersion?: string;
  platform?: string;
}

/**
 * The `connect` params, signed. As upstream's client does: the shared token when configured,
 * the device token when it is all we have or after the shared one was refused, and the
 * signature over whichever token goes first.
 */
export function buildConnectParams(input: ConnectInput): ConnectParams {
  const scopes = input.scopes ?? DEFAULT_SCOPES;
  const platform = input.platform ?? process.platform;
  const auth: NonNullable<ConnectParams["auth"]> = {};
  if (input.token) auth.token = input.token;
  if (input.deviceToken && (input.preferDeviceToken || !input.token)) auth.deviceToken = input.deviceToken;
  const payload = deviceAuthPayload({
    deviceId: input.identity.deviceId,
    clientId: CLIENT_ID,
    clientMode: CLIENT_MODE,
    role: ROLE,
    scopes,
    signedAtMs: input.ts,
    token: auth.token ?? auth.deviceToken,
    nonce: input.nonce,
    platform,
  });
  return {
    minProtocol: PROTOCOL_VERSION,
    maxProtocol: PROTOCOL_VERSION,
    client: {
      id: CLIENT_ID,
      displayName: `clawbridge@${os.hostname()}`,
      version: input.clientVersion ?? "0.1.0",
      platform,
      mode: CLIENT_MODE,
    },
    role: ROLE,
    scopes,
    caps: ["tool-events"],
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
    device: {
      id: input.identity.deviceId,
      publicKey: input.identity.publicKey,
      signature: input.identity.sign(payload),
      signedAt: input.ts,
      nonce: input.nonce,
    },
  };
}
