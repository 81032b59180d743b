import { feishuMessages } from "../messages.js";
/**
 * The two cryptographic primitives of Feishu's webhook push, kept pure so the emulator,
 * tests and the edge share one definition.
 */
// The default import (not named imports) so tests can observe `crypto.timingSafeEqual`.
import crypto from "node:crypto";
import { ClawbridgeError } from "../../core/index.js";

const IV_BYTES = 16;
const BLOCK_BYTES = 16;
// `fatal`: a wrong key that happens to produce valid padding yields bytes that are rarely
// valid UTF-8; failing here beats handing U+FFFD soup to JSON.parse.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decrypts the `encrypt` field of a Feishu push (AES-256-CBC, key = sha256(encryptKey), the
 * first 16 bytes of the base64-decoded value are the IV, PKCS#7 padding) and returns the
 * plaintext, normally JSON. Throws `CB_WEBHOOK_REJECTED` when it cannot be decrypted.
 */
export function decryptFeishuPayload(encrypt: string, encryptKey: string): string {
  const data = Buffer.from(encrypt, "base64");
  if (data.length < IV_BYTES + BLOCK_BYTES || (data.length - IV_BYTES) % BLOCK_BYTES !== 0) {
    throw undecryptable();
  }
  try {
    const key = crypto.createHash("sha256").update(encryptKey, "utf8").digest();
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, data.subarray(0, IV_BYTES));
    const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES)), decipher.final()]);
    return utf8.decode(plain);
  } catch (cause) {
    throw undecryptable(cause);
  }
}

/**
 * `X-Lark-Signature`: hex sha256 of timestamp + nonce + encryptKey + body. Pass the body as
 * the bytes received: Feishu signs those, and a re-serialisation of the parsed JSON
 * (spacing, key order, escaping) would not match.
 */
export function feishuSignature(
  timestamp: string,
  nonce: string,
  encryptKey: string,
  body: string | Uint8Array,
): string {
  const hash = crypto.createHash("sha256").update(timestamp + nonce + encryptKey, "utf8");
  hash.update(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  return hash.digest("hex");
}

/**
 * Compares two secrets without leaking, through timing, where they first differ or how long
 * the expected one is: both sides are hashed to 32 bytes, then `crypto.timingSafeEqual`.
 */
export function constantTimeEqual(actual: string, expected: string): boolean {
  const a = crypto.createHash("sha256").update(actual, "utf8").digest();
  const b = crypto.createHash("sha256").update(expected, "utf8").digest();
  return crypto.timingSafeEqual(a, b);
}

function undecryptable(cause?: unknown): ClawbridgeError {
  return new ClawbridgeError("CB_WEBHOOK_REJECTED", feishuMessages.text("undecryptable"), {
    fix: feishuMessages.text("undecryptableFix"),
    details: { reason: "undecryptable" },
    cause,
  });
}
