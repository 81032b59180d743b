import crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  decryptFeishuPayload,
  feishuSignature,
  verifyWebhookRequest,
  type VerifyWebhookInput,
} from "../../../src/feishu/webhook/index.js";

// Made-up values; nothing here is or resembles a real credential.
const ENCRYPT_KEY = "unit-test-encrypt-key";
const TOKEN = "unit-test-verification-token";
const NOW = Date.parse("2026-02-14T10:40:00Z");
const NOW_S = String(Math.floor(NOW / 1000));

/** Feishu's encryption, written from the spec independently of the implementation under test. */
function encrypt(plaintext: string, key = ENCRYPT_KEY): string {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", crypto.createHash("sha256").update(key).digest(), iv);
  return Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
}

function sign(raw: string, { timestamp = NOW_S, nonce = "nonce-1", key = ENCRYPT_KEY } = {}) {
  const signature = crypto
    .createHash("sha256")
    .update(timestamp + nonce + key + raw)
    .digest("hex");
  return {
    "x-lark-request-timestamp": timestamp,
    "x-lark-request-nonce": nonce,
    "x-lark-signature": signature,
  };
}

function schema2(overrides: { token?: string; eventType?: string } = {}) {
  return {
    schema: "2.0",
    header: {
      event_id: "evt_0123456789abcdef",
      event_type: overrides.eventType ?? "im.message.receive_v1",
      create_time: String(NOW),
      token: overrides.token ?? TOKEN,
      app_id: "cli_0123456789abcdef",
      tenant_key: "tenant_test",
    },
    event: {
      sender: { sender_id: { open_id: "ou_sender0001", union_id: "on_sender0001" }, sender_type: "user" },
      message: {
        message_id: "om_message0001",
        chat_id: "oc_chat0001",
        chat_type: "group",
        message_type: "text",
        content: JSON.stringify({ text: "@_user_1 你好，世界" }),
      },
    },
  };
}

const v1 = (token = TOKEN) => ({
  uuid: "uuid-0001",
  token,
  ts: NOW_S,
  type: "event_callback",
  event: { type: "message", open_chat_id: "oc_chat0001", open_id: "ou_sender0001", text: "hi" },
});

function verify(raw: string | Buffer, extra: Partial<VerifyWebhookInput> = {}) {
  return verifyWebhookRequest({
    rawBody: Buffer.isBuffer(raw) ? raw : Buffer.from(raw, "utf8"),
    headers: {},
    nowMs: NOW,
    ...extra,
  });
}

/** A signed, encrypted push as Feishu sends it with both the encrypt key and the token set. */
function encryptedPush(payload: unknown) {
  const raw = JSON.stringify({ encrypt: encrypt(JSON.stringify(payload)) });
  return { raw, headers: sign(raw) };
}

afterEach(() => vi.restoreAllMocks());

describe("malformed bodies", () => {
  it.each([["not json"], ["[1,2]"], ['"text"'], ["null"], [""]])("refuses %j with 400", (raw) => {
    expect(verify(raw)).toMatchObject({ ok: false, status: 400, code: "malformed_json" });
  });

  it("refuses bytes that are not UTF-8", () => {
    const raw = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expect(verify(raw)).toMatchObject({ ok: false, status: 400, code: "malformed_json" });
  });

  it("refuses an encrypt field that is not a string", () => {
    expect(verify('{"encrypt":42}', { encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 400,
      code: "malformed_json",
    });
  });
});

describe("encrypted bodies", () => {
  it("needs an encrypt key", () => {
    const { raw, headers } = encryptedPush(schema2());
    expect(verify(raw, { headers })).toEqual({
      ok: false,
      status: 400,
      code: "missing_encrypt_key",
      reason: "encrypted body but no feishu.encryptKey configured",
    });
  });

  it("decrypts a signed push and returns the parsed payload with its id and type", () => {
    const payload = schema2();
    const { raw, headers } = encryptedPush(payload);
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY, verificationToken: TOKEN })).toEqual({
      ok: true,
      kind: "event",
      payload,
      eventId: "evt_0123456789abcdef",
      eventType: "im.message.receive_v1",
    });
  });

  it("refuses a correctly signed body whose ciphertext is garbage", () => {
    const raw = JSON.stringify({ encrypt: crypto.randomBytes(48).toString("base64") });
    expect(verify(raw, { headers: sign(raw), encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 400,
      code: "undecryptable",
    });
  });

  it("refuses a signed body whose plaintext is not JSON", () => {
    const raw = JSON.stringify({ encrypt: encrypt("plainly not json") });
    expect(verify(raw, { headers: sign(raw), encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 400,
      code: "undecryptable",
    });
  });

  it("refuses a body encrypted with another key (its signature fails first)", () => {
    const raw = JSON.stringify({ encrypt: encrypt(JSON.stringify(schema2()), "another-test-key") });
    const headers = sign(raw, { key: "another-test-key" });
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 401,
      code: "bad_signature",
    });
  });

  it("authenticates before decrypting, so tampered ciphertext says nothing about its padding", () => {
    const { raw, headers } = encryptedPush(schema2());
    const tampered = raw.replace(/"encrypt":"(.)/, (_m, c: string) => `"encrypt":"${c === "A" ? "B" : "A"}`);
    const decipher = vi.spyOn(crypto, "createDecipheriv");
    expect(verify(tampered, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({ code: "bad_signature" });
    expect(decipher).not.toHaveBeenCalled();
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({ ok: true });
    expect(decipher).toHaveBeenCalledTimes(1);
  });
});

describe("URL verification", () => {
  const challenge = { challenge: "challenge-value-123", token: TOKEN, type: "url_verification" };

  it("answers a plain challenge without signature headers", () => {
    expect(verify(JSON.stringify(challenge), { verificationToken: TOKEN })).toEqual({
      ok: true,
      kind: "challenge",
      challenge: "challenge-value-123",
    });
  });

  it("answers an encrypted challenge (Feishu does not sign it)", () => {
    const raw = JSON.stringify({ encrypt: encrypt(JSON.stringify(challenge)) });
    expect(verify(raw, { encryptKey: ENCRYPT_KEY, verificationToken: TOKEN })).toEqual({
      ok: true,
      kind: "challenge",
      challenge: "challenge-value-123",
    });
  });

  it("refuses an encrypted challenge it cannot decrypt", () => {
    const raw = JSON.stringify({ encrypt: encrypt(JSON.stringify(challenge), "another-test-key") });
    expect(verify(raw, { encryptKey: ENCRYPT_KEY })).toMatchObject({ status: 400, code: "undecryptable" });
  });

  it("refuses a challenge with the wrong token (403)", () => {
    const raw = JSON.stringify({ ...challenge, token: "wrong-token-value" });
    expect(verify(raw, { verificationToken: TOKEN })).toMatchObject({ status: 403, code: "bad_token" });
  });

  it("answers any challenge when no token is configured", () => {
    const raw = JSON.stringify({ ...challenge, token: "whatever" });
    expect(verify(raw)).toMatchObject({ ok: true, kind: "challenge" });
  });
});

describe("signatures", () => {
  it.each([["x-lark-signature"], ["x-lark-request-timestamp"], ["x-lark-request-nonce"]] as const)(
    "refuses a request without %s (401)",
    (missing) => {
      const raw = JSON.stringify(schema2());
      const headers: Record<string, string> = sign(raw);
      delete headers[missing];
      expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({
        status: 401,
        code: "missing_signature",
      });
    },
  );

  it("refuses a wrong signature (401)", () => {
    const raw = JSON.stringify(schema2());
    const headers = { ...sign(raw), "x-lark-signature": "0".repeat(64) };
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 401,
      code: "bad_signature",
    });
  });

  it("refuses a signature made with another key, or over another body", () => {
    const raw = JSON.stringify(schema2());
    expect(
      verify(raw, { headers: sign(raw, { key: "another-test-key" }), encryptKey: ENCRYPT_KEY }),
    ).toMatchObject({ code: "bad_signature" });
    expect(verify(raw + " ", { headers: sign(raw), encryptKey: ENCRYPT_KEY })).toMatchObject({
      code: "bad_signature",
    });
  });

  it("compares signatures with crypto.timingSafeEqual on equal-length buffers", () => {
    const spy = vi.spyOn(crypto, "timingSafeEqual");
    const raw = JSON.stringify(schema2());
    verify(raw, { headers: { ...sign(raw), "x-lark-signature": "abc" }, encryptKey: ENCRYPT_KEY });
    expect(spy).toHaveBeenCalled();
    for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
  });

  it("verifies against the raw bytes, not a re-serialisation (spaces, key order, Chinese)", () => {
    const raw =
      '{ "header": {"token": "' +
      TOKEN +
      '", "event_type":"im.message.receive_v1", "event_id": "evt_raw"},\n  "schema":"2.0",' +
      ' "event": {"message": {"chat_id": "oc_chat0001", "content": "{\\"text\\":\\"你好 \\\\u4e16界\\"}"}} }';
    expect(JSON.stringify(JSON.parse(raw))).not.toBe(raw);
    const headers = sign(raw);
    const result = verify(raw, { headers, encryptKey: ENCRYPT_KEY, verificationToken: TOKEN });
    expect(result).toMatchObject({ ok: true, kind: "event", eventId: "evt_raw" });
    // …and a signature over the re-serialised JSON (what the SDK computes) is refused.
    const reserialised = sign(JSON.stringify(JSON.parse(raw)));
    expect(verify(raw, { headers: reserialised, encryptKey: ENCRYPT_KEY })).toMatchObject({
      code: "bad_signature",
    });
  });

  it("accepts header names in any case and an upper-case hex signature", () => {
    const raw = JSON.stringify(schema2());
    const signed = sign(raw);
    const headers = {
      "X-Lark-Request-Timestamp": signed["x-lark-request-timestamp"],
      "X-Lark-Request-Nonce": signed["x-lark-request-nonce"],
      "X-Lark-Signature": signed["x-lark-signature"].toUpperCase(),
    };
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY })).toMatchObject({ ok: true });
  });

  it("accepts a plain (unencrypted) body that is signed while an encrypt key is configured", () => {
    const payload = schema2();
    const raw = JSON.stringify(payload);
    expect(verify(raw, { headers: sign(raw), encryptKey: ENCRYPT_KEY, verificationToken: TOKEN })).toEqual({
      ok: true,
      kind: "event",
      payload,
      eventId: "evt_0123456789abcdef",
      eventType: "im.message.receive_v1",
    });
  });

  it("refuses an unsigned plain body while an encrypt key is configured", () => {
    expect(verify(JSON.stringify(schema2()), { encryptKey: ENCRYPT_KEY })).toMatchObject({
      status: 401,
      code: "missing_signature",
    });
  });
});

describe("timestamps", () => {
  const raw = JSON.stringify(schema2());
  const at = (offsetS: number) => String(Math.floor(NOW / 1000) + offsetS);

  it.each([
    [-301, false],
    [-299, true],
    [299, true],
    [301, false],
  ])("signed request %i s from now: accepted %s", (offset, accepted) => {
    const result = verify(raw, { headers: sign(raw, { timestamp: at(offset) }), encryptKey: ENCRYPT_KEY });
    expect(result.ok).toBe(accepted);
    if (!accepted) expect(result).toMatchObject({ status: 401, code: "stale_timestamp" });
  });

  it("uses windowMs", () => {
    const headers = sign(raw, { timestamp: at(-61) });
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY, windowMs: 60_000 })).toMatchObject({
      code: "stale_timestamp",
    });
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY, windowMs: 120_000 }).ok).toBe(true);
  });

  it("refuses a timestamp that is not a number of seconds", () => {
    expect(
      verify(raw, { headers: sign(raw, { timestamp: "yesterday" }), encryptKey: ENCRYPT_KEY }),
    ).toMatchObject({ status: 401, code: "stale_timestamp" });
  });

  it("holds a timestamp to the window even without an encrypt key", () => {
    expect(verify(raw, { headers: { "x-lark-request-timestamp": at(-3600) } })).toMatchObject({
      status: 401,
      code: "stale_timestamp",
    });
    expect(verify(raw, { headers: { "x-lark-request-timestamp": at(-10) } }).ok).toBe(true);
    expect(verify(raw).ok).toBe(true);
  });
});

describe("verification token", () => {
  it("checks header.token of schema 2.0", () => {
    const raw = JSON.stringify(schema2({ token: "wrong-token-value" }));
    expect(verify(raw, { verificationToken: TOKEN })).toMatchObject({ status: 403, code: "bad_token" });
    expect(verify(JSON.stringify(schema2()), { verificationToken: TOKEN }).ok).toBe(true);
  });

  it("checks the top-level token of v1 and reads uuid and event.type", () => {
    expect(verify(JSON.stringify(v1("wrong-token-value")), { verificationToken: TOKEN })).toMatchObject({
      status: 403,
      code: "bad_token",
    });
    expect(verify(JSON.stringify(v1()), { verificationToken: TOKEN })).toMatchObject({
      ok: true,
      kind: "event",
      eventId: "uuid-0001",
      eventType: "message",
    });
  });

  it("refuses a push without any token when one is configured", () => {
    const { header, ...rest } = schema2();
    const { token: _token, ...headerWithoutToken } = header;
    const raw = JSON.stringify({ ...rest, header: headerWithoutToken });
    expect(verify(raw, { verificationToken: TOKEN })).toMatchObject({ code: "bad_token" });
  });

  it("checks the token inside an encrypted, signed push", () => {
    const { raw, headers } = encryptedPush(schema2({ token: "wrong-token-value" }));
    expect(verify(raw, { headers, encryptKey: ENCRYPT_KEY, verificationToken: TOKEN })).toMatchObject({
      status: 403,
      code: "bad_token",
    });
  });

  it("compares tokens in constant time", () => {
    const spy = vi.spyOn(crypto, "timingSafeEqual");
    verify(JSON.stringify(schema2({ token: "short" })), { verificationToken: TOKEN });
    expect(spy).toHaveBeenCalledTimes(1);
    const [a, b] = spy.mock.calls[0]!;
    expect((a as Buffer).length).toBe((b as Buffer).length);
  });
});

describe("helpers", () => {
  it("decryptFeishuPayload reverses Feishu's encryption, including non-ASCII text", () => {
    const text = JSON.stringify({ text: "你好，飞书 ✓", n: 1 });
    expect(decryptFeishuPayload(encrypt(text), ENCRYPT_KEY)).toBe(text);
  });

  it("decryptFeishuPayload throws CB_WEBHOOK_REJECTED on a wrong key, short or garbage input", () => {
    const sealed = encrypt("{}");
    for (const [value, key] of [
      [sealed, "another-test-key"],
      ["AAAA", ENCRYPT_KEY],
      [crypto.randomBytes(33).toString("base64"), ENCRYPT_KEY],
    ] as const) {
      expect(() => decryptFeishuPayload(value, key)).toThrow(
        expect.objectContaining({ code: "CB_WEBHOOK_REJECTED" }),
      );
    }
  });

  it("feishuSignature matches sha256(timestamp + nonce + key + body) for strings and bytes", () => {
    const body = '{"a": "飞书"}';
    const expected = sign(body, { timestamp: "1700000000", nonce: "n" })["x-lark-signature"];
    expect(feishuSignature("1700000000", "n", ENCRYPT_KEY, body)).toBe(expected);
    expect(feishuSignature("1700000000", "n", ENCRYPT_KEY, Buffer.from(body))).toBe(expected);
  });
});
