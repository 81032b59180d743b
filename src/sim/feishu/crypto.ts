/**
 * Feishu's webhook push crypto, re-implemented here on purpose (the emulator must not
 * share code with the verifier it tests): signature, AES-256-CBC body encryption.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** `X-Lark-Signature`: hex sha256 of timestamp + nonce + encryptKey + raw body. */
export function signWebhook(timestamp: string, nonce: string, encryptKey: string, rawBody: string): string {
  return createHash("sha256")
    .update(timestamp + nonce + encryptKey + rawBody, "utf8")
    .digest("hex");
}

function aesKey(encryptKey: string): Buffer {
  return createHash("sha256").update(encryptKey, "utf8").digest();
}

/**
 * The `encrypt` value of a push: base64(iv16 + AES-256-CBC(key = sha256(encryptKey),
 * PKCS#7)). The body Feishu posts is `{"encrypt": <this>}`.
 */
export function encryptWebhookBody(
  encryptKey: string,
  plaintext: string,
  iv: Buffer = randomBytes(16),
): string {
  const cipher = createCipheriv("aes-256-cbc", aesKey(encryptKey), iv);
  return Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
}

/** The inverse of `encryptWebhookBody` (for tests; throws on a wrong key). */
export function decryptWebhookBody(encryptKey: string, encrypt: string): string {
  const data = Buffer.from(encrypt, "base64");
  const decipher = createDecipheriv("aes-256-cbc", aesKey(encryptKey), data.subarray(0, 16));
  return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString("utf8");
}

/** A push request as Feishu would send it: headers and the exact raw body. */
export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

/**
 * Builds a push: the payload is encrypted when `encryptKey` is set. Unless `signed` is
 * false it carries `X-Lark-Request-Timestamp` and `-Nonce`, plus `X-Lark-Signature` (over
 * the raw body as sent) when there is a key to sign with.
 */
export function webhookRequest(options: {
  payload: unknown;
  encryptKey?: string;
  timestamp?: string;
  nonce?: string;
  signed?: boolean;
}): WebhookRequest {
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomBytes(8).toString("hex");
  const plain = JSON.stringify(options.payload);
  const key = options.encryptKey;
  const body = key ? JSON.stringify({ encrypt: encryptWebhookBody(key, plain) }) : plain;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (options.signed !== false) {
    headers["x-lark-request-timestamp"] = timestamp;
    headers["x-lark-request-nonce"] = nonce;
    if (key) headers["x-lark-signature"] = signWebhook(timestamp, nonce, key, body);
  }
  return { headers, body };
}
