import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  PROTOCOL_VERSION,
  connectParamsSchema,
  deviceAuthPayload,
  deviceIdOf,
  verifyDeviceSignature,
  type ConnectParams,
} from "../gateway/index.js";
import type { PairingBook } from "./fake-pairing.js";
import { FAKE_EVENTS, FAKE_SERVER_VERSION, MAX_PAYLOAD, errorBody, type ResponseBody } from "./fake-types.js";

/** How far `device.signedAt` may be from the gateway's clock. */
export const SIGNATURE_SKEW_MS = 10 * 60_000;

export interface HandshakeInput {
  params: unknown;
  challenge: { nonce: string; ts: number };
  token: string;
  /** Device tokens the gateway issued, by device id. */
  deviceTokens: ReadonlyMap<string, string>;
  /** Present when the gateway acts as a remote gateway that requires pairing. */
  pairing?: PairingBook;
  now: number;
}

export type HandshakeResult =
  | { ok: true; params: ConnectParams; deviceId: string; role: string; scopes: string[] }
  | {
      ok: false;
      response: ResponseBody;
      /** Close the socket with this code after the error (1008 policy, 1002 protocol). */
      closeCode: number;
      /** For the log: why (never contains a secret). */
      reason: string;
    };

function refuse(response: ResponseBody, closeCode: number, reason: string): HandshakeResult {
  return { ok: false, response, closeCode, reason };
}

/** Constant-time string comparison, so a token check leaks no timing. */
function sameSecret(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined) return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

function deviceInvalid(reason: string): HandshakeResult {
  return refuse(
    errorBody("INVALID_REQUEST", "device signature invalid", { code: "DEVICE_SIGNATURE_INVALID", reason }),
    1008,
    `device ${reason}`,
  );
}

/**
 * Checks a `connect` request the way openclaw 2026.9.6 does: closed params schema,
 * protocol range, device identity, shared token or issued device token, the Ed25519
 * signature over the `v3|…` payload, and pairing when the gateway requires it.
 */
export function checkConnect(input: HandshakeInput): HandshakeResult {
  const parsed = connectParamsSchema.safeParse(input.params);
  if (!parsed.success) {
    return refuse(
      errorBody("INVALID_REQUEST", `invalid connect params: ${z.prettifyError(parsed.error)}`),
      1008,
      "invalid connect params",
    );
  }
  const params = parsed.data;
  if (params.minProtocol > PROTOCOL_VERSION || params.maxProtocol < PROTOCOL_VERSION) {
    return refuse(
      errorBody("PROTOCOL_MISMATCH", `protocol mismatch: server speaks ${PROTOCOL_VERSION}`, {
        code: "PROTOCOL_MISMATCH",
        expectedProtocol: PROTOCOL_VERSION,
      }),
      1002,
      "protocol mismatch",
    );
  }
  const device = params.device;
  if (!device) {
    return refuse(errorBody("INVALID_REQUEST", "device identity required"), 1008, "no device identity");
  }

  const auth = params.auth ?? {};
  const issued = input.deviceTokens.get(device.id);
  if (!sameSecret(auth.token, input.token) && !sameSecret(auth.deviceToken, issued)) {
    const canRetry = issued !== undefined && auth.deviceToken === undefined;
    return refuse(
      errorBody(
        "INVALID_REQUEST",
        "unauthorized: gateway token mismatch (set gateway.remote.token to match gateway.auth.token)",
        {
          code: "AUTH_TOKEN_MISMATCH",
          authReason: "token_mismatch",
          canRetryWithDeviceToken: canRetry,
          recommendedNextStep: canRetry ? "retry_with_device_token" : "update_auth_configuration",
        },
      ),
      1008,
      "token mismatch",
    );
  }

  const rawKey = Buffer.from(device.publicKey, "base64url");
  if (rawKey.length !== 32 || deviceIdOf(rawKey) !== device.id) return deviceInvalid("device-id-mismatch");
  if (device.nonce !== input.challenge.nonce) return deviceInvalid("nonce-mismatch");
  if (Math.abs(device.signedAt - input.now) > SIGNATURE_SKEW_MS) return deviceInvalid("signature-stale");
  const role = params.role ?? "operator";
  const scopes = params.scopes ?? [];
  const payload = deviceAuthPayload({
    deviceId: device.id,
    clientId: params.client.id,
    clientMode: params.client.mode,
    role,
    scopes,
    signedAtMs: device.signedAt,
    token: auth.token ?? auth.deviceToken,
    nonce: device.nonce,
    platform: params.client.platform,
    deviceFamily: params.client.deviceFamily,
  });
  if (!verifyDeviceSignature(device.publicKey, payload, device.signature)) {
    return deviceInvalid("signature-mismatch");
  }

  if (input.pairing && !input.pairing.isApproved(device.id)) {
    const request = input.pairing.request(device.id, role, scopes);
    return refuse(
      errorBody("NOT_PAIRED", "pairing required: device is not approved yet", {
        code: "PAIRING_REQUIRED",
        reason: "not-paired",
        requestId: request.requestId,
        remediationHint: `openclaw devices approve ${request.requestId}`,
        deviceId: device.id,
        requestedRole: request.requestedRole,
        requestedScopes: request.requestedScopes,
      }),
      1008,
      "pairing required",
    );
  }
  return { ok: true, params, deviceId: device.id, role, scopes };
}

/** The `hello-ok` payload, key for key as openclaw 2026.9.6 sends it. */
export function helloOk(hello: {
  connId: string;
  methods: string[];
  role: string;
  scopes: string[];
  deviceToken: string;
  tickIntervalMs: number;
}): Record<string, unknown> {
  return {
    type: "hello-ok",
    protocol: PROTOCOL_VERSION,
    server: { version: FAKE_SERVER_VERSION, connId: hello.connId },
    features: { methods: hello.methods, events: [...FAKE_EVENTS] },
    snapshot: {},
    auth: { role: hello.role, scopes: hello.scopes, deviceToken: hello.deviceToken },
    policy: { maxPayload: MAX_PAYLOAD, tickIntervalMs: hello.tickIntervalMs },
  };
}
