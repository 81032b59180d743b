import { createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../../src/core/index.js";
import {
  approveCommand,
  connectParamsSchema,
  deviceAuthPayload,
  frameSchema,
  identityFromPrivateKey,
  isGroupSession,
  messageText,
  parseSessionKey,
  verifyDeviceSignature,
} from "../../../src/gateway/index.js";

// RFC 8032 §7.1 test 1: a published Ed25519 test key, so the vector below is checkable by anyone.
const RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const pem = createPrivateKey({
  key: Buffer.concat([
    Buffer.from("302e020100300506032b657004220420", "hex"),
    Buffer.from(RFC8032_SEED, "hex"),
  ]),
  format: "der",
  type: "pkcs8",
})
  .export({ format: "pem", type: "pkcs8" })
  .toString();

describe("device signature (v3 payload)", () => {
  const identity = identityFromPrivateKey(pem);
  const payload = deviceAuthPayload({
    deviceId: identity.deviceId,
    clientId: "gateway-client",
    clientMode: "backend",
    role: "operator",
    scopes: ["operator.read", "operator.write"],
    signedAtMs: 1795626560950,
    token: "tok-test",
    nonce: "dc01a641-7758-4072-90f0-a282e329ec72",
    platform: "Linux",
  });

  it("derives the public key and device id from the key", () => {
    // RFC 8032 test 1 public key d75a9801…511a, base64url.
    expect(identity.publicKey).toBe("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    expect(identity.deviceId).toBe("21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
  });

  it("builds the payload exactly: platform lower-cased, empty device family last", () => {
    expect(payload).toBe(
      "v3|21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9|gateway-client|backend|operator|operator.read,operator.write|1795626560950|tok-test|dc01a641-7758-4072-90f0-a282e329ec72|linux|",
    );
  });

  it("signs deterministically (Ed25519) and verifies", () => {
    const signature = identity.sign(payload);
    expect(signature).toBe(
      "VGwa81En6kGD6BErtnIvxG4wkrWWTQibv2ewZhXOBHYtSgZHO0T5NyOjBuv3ZTevxfQtEUxUoHe9alFfOFJKCg",
    );
    expect(verifyDeviceSignature(identity.publicKey, payload, signature)).toBe(true);
    expect(
      verifyDeviceSignature(identity.publicKey, payload.replace("tok-test", "tok-tesT"), signature),
    ).toBe(false);
  });
});

describe("frames", () => {
  it("parses the three frame kinds and keeps unknown fields", () => {
    expect(frameSchema.parse({ type: "event", event: "tick", payload: { ts: 1 }, seq: 3 })).toMatchObject({
      event: "tick",
      seq: 3,
    });
    expect(
      frameSchema.parse({
        type: "res",
        id: "1",
        ok: false,
        error: { code: "NOT_PAIRED", message: "x", details: { code: "PAIRING_REQUIRED", requestId: "r1" } },
      }),
    ).toMatchObject({
      ok: false,
      error: { details: { requestId: "r1" } },
    });
    expect(frameSchema.safeParse({ type: "res", id: "1" }).success).toBe(false);
  });

  it("connect params are a closed schema", () => {
    const params = {
      minProtocol: 4,
      maxProtocol: 4,
      client: { id: "gateway-client", version: "0.1.0", platform: "linux", mode: "backend" },
      role: "operator",
      scopes: ["operator.read"],
    };
    expect(connectParamsSchema.safeParse(params).success).toBe(true);
    expect(connectParamsSchema.safeParse({ ...params, extra: 1 }).success).toBe(false);
    expect(
      connectParamsSchema.safeParse({ ...params, client: { ...params.client, id: "clawbridge" } }).success,
    ).toBe(false);
  });

  it("reads message text from content parts or a string", () => {
    expect(
      messageText({
        role: "assistant",
        content: [{ type: "text", text: "a" }, { type: "image" }, { type: "text", text: "b" }],
      }),
    ).toBe("ab");
    expect(messageText({ content: "plain" })).toBe("plain");
    expect(messageText(undefined)).toBe("");
  });
});

describe("session keys", () => {
  it("parses Feishu group sessions with topic and sender, tolerating case", () => {
    const key = parseSessionKey("agent:main:feishu:group:oc_ABC123:topic:omt_9:sender:ou_x");
    expect(key).toMatchObject({
      agentId: "main",
      channel: "feishu",
      kind: "group",
      chatId: "oc_ABC123",
      topicId: "omt_9",
      senderId: "ou_x",
    });
    expect(isGroupSession(key, "oc_abc123")).toBe(true);
    expect(isGroupSession(parseSessionKey("agent:main:feishu:group:oc_abc123"))).toBe(true);
    expect(isGroupSession(parseSessionKey("agent:main:clawbridge:oc_abc123"))).toBe(false);
  });

  it("keeps odd keys without throwing", () => {
    expect(parseSessionKey("main")).toEqual({ raw: "main" });
    expect(parseSessionKey("agent:main:clawbridge:from-office-mac")).toMatchObject({
      agentId: "main",
      channel: "clawbridge",
      rest: "clawbridge:from-office-mac",
    });
  });
});

// Core's backoff, as the gateway link uses it for reconnects.
describe("backoff", () => {
  it("starts small, grows, stays within the cap, with bounded jitter", () => {
    const options = { baseMs: 200, maxMs: 30_000, factor: 2, jitter: 0.3 };
    expect(backoffDelay(0, options, () => 1)).toBe(200);
    expect(backoffDelay(0, options, () => 0)).toBe(140);
    expect(backoffDelay(3, options, () => 1)).toBe(1600);
    for (let attempt = 0; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt, options);
      expect(delay).toBeGreaterThanOrEqual(0.7 * Math.min(30_000, 200 * 2 ** attempt) - 1);
      expect(delay).toBeLessThanOrEqual(30_000);
    }
  });
});

describe("approve command", () => {
  it("adds --url/--token for a non-default port, never a token value", () => {
    expect(approveCommand("ws://192.168.1.52:18789", "3f2a")).toBe("openclaw devices approve 3f2a");
    expect(approveCommand("ws://192.168.1.52:28789", "3f2a")).toBe(
      "openclaw devices approve 3f2a --url ws://127.0.0.1:28789 --token <your gateway token>",
    );
  });
});
