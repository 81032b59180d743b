import { randomBytes } from "node:crypto";
import { signWebhook } from "../../../src/sim/feishu/index.js";

/** A request exactly as it goes on the wire (a raw HTTP client sends it: no header added). */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** A push the emulator really sent and the bridge accepted, caught on its way. */
export interface Genuine {
  headers: Record<string, string>;
  body: string;
  /** Its decrypted payload (schema 2.0). */
  payload: Record<string, unknown>;
}

export interface WebhookSecrets {
  encryptKey: string;
  verificationToken: string;
}

/** A refused request and what the edge must answer: the status, and the reason code it logs (none for 404/405). */
export interface BadRequest {
  kind: string;
  request: RawRequest;
  status: number;
  reason?: string;
}

export type BadRequestDraft = (genuine: Genuine, secrets: WebhookSecrets, nowSeconds: number) => BadRequest;

export const EVENTS_PATH = "/feishu/events";
export const ROUTES = ["/feishu/events", "/feishu/cards"] as const;
export const SIGNATURE = "x-lark-signature";
export const TIMESTAMP = "x-lark-request-timestamp";
export const NONCE = "x-lark-request-nonce";
export const JSON_TYPE = "application/json; charset=utf-8";
/** The edge's default timestamp window, in seconds. */
export const WINDOW_SECONDS = 300;

/** Headers for `body` signed with `key` at `timestamp`, as Feishu sends them. */
export function signedHeaders(
  body: string,
  key: string,
  timestamp: string,
  nonce = newNonce(),
): Record<string, string> {
  return {
    "content-type": JSON_TYPE,
    [TIMESTAMP]: timestamp,
    [NONCE]: nonce,
    [SIGNATURE]: signWebhook(timestamp, nonce, key, body),
  };
}

export function newNonce(): string {
  return randomBytes(8).toString("hex");
}

export function post(
  path: string,
  headers: Record<string, string | string[]>,
  body: string | Buffer,
): RawRequest {
  return { method: "POST", path, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8") };
}

/** A body signed correctly with the right key, now: it gets past the signature to what is wrong inside. */
export function signedBody(
  kind: string,
  body: string,
  s: WebhookSecrets,
  now: number,
  status: number,
  reason: string,
): BadRequest {
  return {
    kind,
    request: post(EVENTS_PATH, signedHeaders(body, s.encryptKey, String(now)), body),
    status,
    reason,
  };
}
