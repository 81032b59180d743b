import type { IncomingMessage } from "node:http";
import getRawBody from "raw-body";
import type { WebhookRejection } from "./verify.js";

/** Default cap on a webhook body; Feishu events are a few KB, card callbacks a little more. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type BodyReadResult = { ok: true; body: Buffer } | WebhookRejection;

/**
 * Reads a webhook body as raw bytes (the signature covers them exactly), refusing anything
 * that is not JSON and anything over `maxBytes` — by `Content-Length` before a byte is
 * read, or as soon as a streamed (chunked) body crosses the cap.
 */
export async function readWebhookBody(req: IncomingMessage, maxBytes: number): Promise<BodyReadResult> {
  const mediaProblem = checkMediaType(req.headers["content-type"], req.headers["content-encoding"]);
  if (mediaProblem) return { ok: false, status: 415, code: "unsupported_media_type", reason: mediaProblem };

  const declared = req.headers["content-length"];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && Number.isFinite(length) && length > maxBytes) return tooLarge(maxBytes);

  try {
    const body = await getRawBody(req, { limit: maxBytes, length: length ?? null });
    return { ok: true, body };
  } catch (error) {
    if (typeOf(error) === "entity.too.large") return tooLarge(maxBytes);
    // Aborted uploads and bodies shorter than their Content-Length.
    return { ok: false, status: 400, code: "unreadable_body", reason: "request body could not be read" };
  }
}

/** Why the content type is unacceptable, or undefined when it is `application/json` in UTF-8. */
export function checkMediaType(
  contentType: string | undefined,
  contentEncoding?: string | undefined,
): string | undefined {
  if (contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== "identity") {
    return "content-encoding is not supported";
  }
  const [type = "", ...params] = (contentType ?? "").split(";");
  if (type.trim().toLowerCase() !== "application/json") return "content-type must be application/json";
  for (const param of params) {
    const [name = "", value = ""] = param.split("=");
    const charset = value.trim().replace(/^"|"$/g, "").toLowerCase();
    if (name.trim().toLowerCase() === "charset" && charset !== "utf-8" && charset !== "utf8") {
      return "charset must be utf-8";
    }
  }
  return undefined;
}

function tooLarge(maxBytes: number): WebhookRejection {
  return { ok: false, status: 413, code: "too_large", reason: `body larger than ${maxBytes} bytes` };
}

function typeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { type?: unknown }).type : undefined;
}
