import { randomBytes } from "node:crypto";
import { webhookRequest } from "./crypto.js";
import type { DeliveryResult, WebhookConfig } from "./types.js";

/**
 * POSTs one push the way Feishu does: JSON, encrypted and signed when the app has an
 * encrypt key, answered within `timeoutMs` or counted as timed out. Feishu's own retry
 * schedule is not emulated (tests call `redeliver`).
 */
export async function postPush(
  url: string,
  config: WebhookConfig,
  payload: unknown,
  timeoutMs: number,
  signed = true,
): Promise<DeliveryResult & { via: "webhook" }> {
  const request = webhookRequest({ payload, encryptKey: config.encryptKey, signed });
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { ...request.headers, "user-agent": "Feishu-Emulator/1.0 (clawbridge)" },
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { via: "webhook", status: response.status, body: parseBody(text), ms: ms() };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return {
      via: "webhook",
      status: 0,
      body: undefined,
      ms: ms(),
      ...(timedOut ? { timedOut: true } : {}),
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}

/**
 * The `url_verification` request Feishu sends when the URL is saved. Encrypted when a key
 * is set; unsigned by default, because the official SDKs answer the challenge before
 * any signature check (so a verifier must not require a signature on it).
 */
export function challengePayload(
  config: WebhookConfig,
  token: string,
): { challenge: string; token: string; type: string } {
  return {
    challenge: randomBytes(16).toString("hex"),
    token: config.verificationToken ?? token,
    type: "url_verification",
  };
}

function parseBody(text: string): unknown {
  if (text === "") return "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
