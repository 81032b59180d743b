import { constantTimeEqual, decryptFeishuPayload, feishuSignature } from "./crypto.js";

/** How far a signed request's timestamp may be from our clock (either way) by default. */
export const DEFAULT_TIMESTAMP_WINDOW_MS = 5 * 60_000;

/** Stable, machine-readable reasons a webhook request was refused (log fields, metrics labels). */
export type WebhookRejectCode =
  | "malformed_json"
  | "missing_encrypt_key"
  | "undecryptable"
  | "missing_signature"
  | "bad_signature"
  | "stale_timestamp"
  | "bad_token"
  | "too_large"
  | "unsupported_media_type"
  | "unreadable_body"
  | "method_not_allowed";

/** A refused request. `reason` is short English that is safe to send back to the caller. */
export interface WebhookRejection {
  ok: false;
  status: 400 | 401 | 403 | 405 | 413 | 415;
  code: WebhookRejectCode;
  reason: string;
}

/** Feishu's URL verification: answer `{"challenge": challenge}`. */
export interface WebhookChallenge {
  ok: true;
  kind: "challenge";
  challenge: string;
}

/** A verified push: the decrypted, parsed body (schema 2.0 `{schema, header, event}` or v1 `{uuid, token, ts, type, event}`). */
export interface WebhookEvent {
  ok: true;
  kind: "event";
  payload: Record<string, unknown>;
  /** schema 2.0 `header.event_id`, v1 `uuid`. */
  eventId?: string;
  /** schema 2.0 `header.event_type`, v1 `event.type`. */
  eventType?: string;
}

export type WebhookVerification = WebhookChallenge | WebhookEvent | WebhookRejection;

export interface VerifyWebhookInput {
  /** The body exactly as received. */
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  encryptKey?: string;
  verificationToken?: string;
  nowMs: number;
  /** Allowed clock difference for `X-Lark-Request-Timestamp`; default 5 minutes. */
  windowMs?: number;
}

/**
 * Decides whether a Feishu push is authentic and returns its payload. Pure: no I/O, time
 * comes from `nowMs`.
 *
 * With an encrypt key every request except the URL verification must be signed. A signed
 * request is authenticated *before* it is decrypted, so nobody without the key can use our
 * answers to probe the AES-CBC padding. The URL verification is not signed by Feishu; it is
 * harmless (we only echo its challenge) and is checked by token alone.
 */
export function verifyWebhookRequest(input: VerifyWebhookInput): WebhookVerification {
  const body = parseJsonObject(input.rawBody);
  if (!body) return reject(400, "malformed_json", "body is not a JSON object");
  const headers = lowerCaseKeys(input.headers);
  const { encryptKey, verificationToken } = input;
  const windowMs = input.windowMs ?? DEFAULT_TIMESTAMP_WINDOW_MS;

  const encrypted = "encrypt" in body;
  if (encrypted && typeof body.encrypt !== "string") {
    return reject(400, "malformed_json", "encrypt must be a string");
  }
  if (encrypted && !encryptKey) {
    return reject(400, "missing_encrypt_key", "encrypted body but no feishu.encryptKey configured");
  }

  const timestamp = headerValue(headers, "x-lark-request-timestamp");
  const nonce = headerValue(headers, "x-lark-request-nonce");
  const signature = headerValue(headers, "x-lark-signature");
  const signed =
    Boolean(encryptKey) && timestamp !== undefined && nonce !== undefined && signature !== undefined;
  if (signed) {
    const expected = feishuSignature(timestamp!, nonce!, encryptKey!, input.rawBody);
    if (!constantTimeEqual(signature!.trim().toLowerCase(), expected)) {
      return reject(401, "bad_signature", "signature does not match");
    }
    const stale = checkTimestamp(timestamp!, input.nowMs, windowMs);
    if (stale) return stale;
  }

  let payload = body;
  if (encrypted) {
    const decrypted = decrypt(body.encrypt as string, encryptKey!);
    if (!decrypted) return reject(400, "undecryptable", "encrypted body could not be decrypted");
    payload = decrypted;
  }

  if (payload.type === "url_verification") {
    if (verificationToken && !tokenMatches(payload, verificationToken)) {
      return reject(403, "bad_token", "verification token does not match");
    }
    if (typeof payload.challenge !== "string") {
      return reject(400, "malformed_json", "url_verification without a challenge");
    }
    return { ok: true, kind: "challenge", challenge: payload.challenge };
  }

  if (encryptKey && !signed) {
    return reject(401, "missing_signature", "missing X-Lark-Signature, X-Lark-Request-Timestamp or -Nonce");
  }
  // Without a key there is nothing to sign with, but a timestamp that is sent is still held
  // to the window: it costs nothing and catches replays of captured requests verbatim.
  if (!encryptKey && timestamp !== undefined) {
    const stale = checkTimestamp(timestamp, input.nowMs, windowMs);
    if (stale) return stale;
  }
  if (verificationToken && !tokenMatches(payload, verificationToken)) {
    return reject(403, "bad_token", "verification token does not match");
  }
  return { ok: true, kind: "event", payload, ...eventIdentity(payload) };
}

function reject(
  status: WebhookRejection["status"],
  code: WebhookRejectCode,
  reason: string,
): WebhookRejection {
  return { ok: false, status, code, reason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One strict decoder for every request (making one per request costs more than the decoding). */
const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseJsonObject(bytes: Buffer | string): Record<string, unknown> | undefined {
  try {
    const text = typeof bytes === "string" ? bytes : utf8.decode(bytes);
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function decrypt(encrypt: string, encryptKey: string): Record<string, unknown> | undefined {
  try {
    return parseJsonObject(decryptFeishuPayload(encrypt, encryptKey));
  } catch {
    return undefined;
  }
}

function lowerCaseKeys(headers: VerifyWebhookInput["headers"]): Map<string, string | string[] | undefined> {
  return new Map(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

/** A header that appears once; a repeated security header is treated as absent. */
function headerValue(headers: Map<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers.get(name);
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === undefined || value === "" ? undefined : value;
}

function checkTimestamp(timestamp: string, nowMs: number, windowMs: number): WebhookRejection | undefined {
  const seconds = /^\d{1,12}$/.test(timestamp.trim()) ? Number(timestamp.trim()) : NaN;
  if (Number.isNaN(seconds)) return reject(401, "stale_timestamp", "timestamp is not a number of seconds");
  if (Math.abs(nowMs - seconds * 1000) > windowMs) {
    return reject(401, "stale_timestamp", "timestamp outside the allowed window");
  }
  return undefined;
}

/** schema 2.0 carries the token in `header.token`; v1 and the URL verification at the top. */
function tokenMatches(payload: Record<string, unknown>, expected: string): boolean {
  const token = isRecord(payload.header) ? payload.header.token : payload.token;
  return typeof token === "string" && constantTimeEqual(token, expected);
}

function eventIdentity(payload: Record<string, unknown>): { eventId?: string; eventType?: string } {
  const header = isRecord(payload.header) ? payload.header : undefined;
  const event = isRecord(payload.event) ? payload.event : undefined;
  const eventId = header ? header.event_id : payload.uuid;
  const eventType = header ? header.event_type : event?.type;
  return {
    ...(typeof eventId === "string" ? { eventId } : {}),
    ...(typeof eventType === "string" ? { eventType } : {}),
  };
}
