import { describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import {
  classifyRefusal,
  identityFromPrivateKey,
  refusalOf,
  type DeviceTokenStore,
  type GatewayErrorShape,
} from "../../../src/gateway/index.js";
import { resolveClientOptions } from "../../../src/gateway/client-options.js";
import { gatewayError } from "../../../src/gateway/gateway-errors.js";
import { Handshake } from "../../../src/gateway/handshake.js";
import { generateKeyPairSync } from "node:crypto";

/**
 * Refusals as openclaw 2026.9.6 sends them (OPENCLAW-PROTOCOL.md, and the gateway's
 * `message-handler`/`connect-error-details` sources), plus two made to show that only the
 * codes are read: a message that says "unauthorized" under another code, and an auth code
 * under a message that says nothing of the kind.
 */
const RECORDED = {
  tokenMismatch: {
    code: "INVALID_REQUEST",
    message: "unauthorized: gateway token mismatch (provide gateway auth token)",
    details: {
      code: "AUTH_TOKEN_MISMATCH",
      authReason: "token_mismatch",
      canRetryWithDeviceToken: true,
      recommendedNextStep: "retry_with_device_token",
    },
  },
  tokenMissing: {
    code: "INVALID_REQUEST",
    message: "unauthorized: gateway token missing (provide gateway auth token)",
    details: { code: "AUTH_TOKEN_MISSING", authReason: "token_missing" },
  },
  rateLimited: {
    code: "INVALID_REQUEST",
    message: "unauthorized: too many failed authentication attempts (retry later)",
    retryable: true,
    retryAfterMs: 60_000,
    details: { code: "AUTH_RATE_LIMITED", authReason: "rate_limited" },
  },
  protocolMismatch: {
    code: "INVALID_REQUEST",
    message: "protocol mismatch",
    details: {
      code: "PROTOCOL_MISMATCH",
      clientMinProtocol: 4,
      clientMaxProtocol: 4,
      expectedProtocol: 5,
      minimumProbeProtocol: 3,
    },
  },
  notPaired: {
    code: "NOT_PAIRED",
    message: "pairing required: device is not approved yet",
    details: {
      code: "PAIRING_REQUIRED",
      reason: "not-paired",
      requestId: "3f2a9c1e-5b7d-4e2a-9f00-1c2d3e4f5a6b",
      remediationHint: "Approve this device from the pending pairing requests.",
      deviceId: "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
      requestedRole: "operator",
      requestedScopes: ["operator.read", "operator.write"],
    },
  },
  deviceIdentityRequired: {
    code: "NOT_PAIRED",
    message: "device identity required",
    details: { code: "DEVICE_IDENTITY_REQUIRED" },
  },
  missingScope: { code: "MISSING_SCOPE", message: "missing scope: operator.write" },
  forbidden: { code: "FORBIDDEN", message: "forbidden" },
  unavailable: { code: "UNAVAILABLE", message: "gateway is starting", retryable: true, retryAfterMs: 600 },
  // Made up: the words say "unauthorized", the code does not.
  unauthorizedWords: {
    code: "UNAVAILABLE",
    message: "unauthorized: gateway token mismatch (the gateway is restarting)",
    retryable: true,
  },
  // Made up: an auth code whose message says nothing about tokens.
  quietAuthCode: {
    code: "INVALID_REQUEST",
    message: "request rejected",
    details: { code: "AUTH_DEVICE_TOKEN_MISMATCH", authReason: "device_token_mismatch" },
  },
} satisfies Record<string, GatewayErrorShape>;

describe("refusal classification, by the gateway's codes only", () => {
  it.each([
    [
      "tokenMismatch",
      { kind: "auth", code: "AUTH_TOKEN_MISMATCH", missing: false, deviceTokenMayHelp: true },
    ],
    ["tokenMissing", { kind: "auth", code: "AUTH_TOKEN_MISSING", missing: true, deviceTokenMayHelp: false }],
    ["rateLimited", { kind: "auth", code: "AUTH_RATE_LIMITED", missing: false, deviceTokenMayHelp: false }],
    ["quietAuthCode", { kind: "auth", code: "AUTH_DEVICE_TOKEN_MISMATCH", deviceTokenMayHelp: false }],
    ["protocolMismatch", { kind: "protocol", expectedProtocol: 5 }],
    ["notPaired", { kind: "pairing", requestId: "3f2a9c1e-5b7d-4e2a-9f00-1c2d3e4f5a6b" }],
    ["deviceIdentityRequired", { kind: "other" }],
    ["missingScope", { kind: "forbidden" }],
    ["forbidden", { kind: "forbidden" }],
    ["unavailable", { kind: "other" }],
    ["unauthorizedWords", { kind: "other" }],
  ] as const)("%s", (name, expected) => {
    const shape: GatewayErrorShape = RECORDED[name];
    expect(classifyRefusal(shape)).toMatchObject(expected);
    // The same answer once the refusal went through our typed error (as `connect` sees it).
    const error = gatewayError("ai-pc", shape, { method: "connect" });
    expect(refusalOf(error)).toEqual(classifyRefusal(shape));
  });

  it("a refusal keeps the gateway's own words for people, without deciding on them", () => {
    expect(classifyRefusal(RECORDED.rateLimited)).toMatchObject({
      message: "unauthorized: too many failed authentication attempts (retry later)",
    });
    const error = gatewayError("ai-pc", RECORDED.unauthorizedWords, { method: "connect" });
    expect(error.message).toBe(
      "node ai-pc: connect failed: UNAVAILABLE: unauthorized: gateway token mismatch (the gateway is restarting)",
    );
    expect(isClawbridgeError(error, "CB_GATEWAY_REQUEST_FAILED")).toBe(true);
  });

  it("errors that are no refusal (no answer at all) classify as nothing", () => {
    expect(refusalOf(new Error("socket hang up"))).toBeUndefined();
  });
});

describe("what the handshake makes of a refusal", () => {
  const { privateKey } = generateKeyPairSync("ed25519");
  const identity = identityFromPrivateKey(privateKey.export({ format: "pem", type: "pkcs8" }).toString());

  function handshake(storedDeviceToken?: string) {
    const deviceTokens = {
      get: async () => (storedDeviceToken ? { token: storedDeviceToken, url: "", issuedAt: "" } : undefined),
    } as unknown as DeviceTokenStore;
    return new Handshake(
      resolveClientOptions({
        node: "ai-pc",
        url: "ws://192.168.1.52:28789",
        identity,
        token: "shared-token",
        tokenSource: "AI_PC_TOKEN",
        deviceTokens,
      }),
    );
  }
  const refused = (shape: GatewayErrorShape) => gatewayError("ai-pc", shape, { method: "connect" });

  it("a token mismatch tries the stored device token once, then names the variable", async () => {
    const h = handshake("device-token-from-pairing");
    await h.params("nonce-1", 1);
    expect(h.refused(refused(RECORDED.tokenMismatch))).toEqual({ kind: "retry-with-device-token" });
    const params = await h.params("nonce-2", 2);
    expect(params.auth).toEqual({ token: "shared-token", deviceToken: "device-token-from-pairing" });
    const second = h.refused(refused(RECORDED.tokenMismatch));
    expect(second.kind).toBe("auth-failed");
    if (second.kind !== "auth-failed") return;
    expect(second.error.message).toBe(
      "node ai-pc: the gateway refused the token (gateway token mismatch); the stored device token was refused too",
    );
    expect(second.error.details).toMatchObject({ tokenSource: "AI_PC_TOKEN", triedDeviceToken: true });
  });

  it("without a device token: auth-failed at once; an unrelated auth code says which code", async () => {
    const h = handshake();
    await h.params("n", 1);
    const mismatch = h.refused(refused(RECORDED.tokenMismatch));
    expect(mismatch).toMatchObject({ kind: "auth-failed" });
    const limited = h.refused(refused(RECORDED.rateLimited));
    expect(limited).toMatchObject({ kind: "auth-failed", retryAfterMs: 60_000 });
    if (limited.kind !== "auth-failed") return;
    expect(limited.error.message).toBe(
      "node ai-pc: the gateway refused to authenticate this bridge (AUTH_RATE_LIMITED: unauthorized: too many failed authentication attempts (retry later))",
    );
    expect(limited.error.details.detailCode).toBe("AUTH_RATE_LIMITED");
  });

  it("'unauthorized' in the text of an UNAVAILABLE answer is a failed attempt, not an auth failure", async () => {
    const h = handshake("device-token-from-pairing");
    await h.params("n", 1);
    const result = h.refused(refused(RECORDED.unauthorizedWords));
    expect(result.kind).toBe("failed");
  });

  it("pairing names the request and the exact command; protocol says which version", async () => {
    const h = handshake();
    const pairing = h.refused(refused(RECORDED.notPaired));
    expect(pairing.kind).toBe("pairing");
    if (pairing.kind === "pairing") {
      expect(pairing.error.details.command).toBe(
        "openclaw devices approve 3f2a9c1e-5b7d-4e2a-9f00-1c2d3e4f5a6b --url ws://127.0.0.1:28789 --token <your gateway token>",
      );
    }
    const protocol = h.refused(refused(RECORDED.protocolMismatch));
    expect(protocol.kind === "protocol-mismatch" && protocol.error.message).toBe(
      "node ai-pc: the gateway speaks protocol 5; clawbridge speaks protocol 4",
    );
  });
});
