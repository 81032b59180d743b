import { feishuMessages as m } from "./messages.js";
import { ClawbridgeError } from "../core/index.js";

/** Feishu codes that mean "slow down": the app quota, and the per-chat / per-message frequency limit. */
const APP_RATE_LIMIT_CODES = new Set([99991400]);
const CHAT_RATE_LIMIT_CODES = new Set([230020]);
/** Credentials or token refused. */
const AUTH_CODES = new Set([10003, 10014, 99991661, 99991663, 99991664, 99991665, 99991668, 99991671]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_NETWORK",
  "ECANCELED",
]);
/** Without a reset header, a per-chat limit clears within a second. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000;

interface HttpLikeError {
  message?: string;
  code?: string;
  response?: { status?: number; headers?: Record<string, unknown>; data?: unknown };
}

/**
 * Turns what the SDK throws (axios errors) or returns (a body with `code !== 0`) into a
 * `ClawbridgeError` whose code says what the caller should do: wait and retry
 * (`CB_FEISHU_RATE_LIMITED` with `retryAfterMs`), retry with backoff (`CB_FEISHU_SERVER`,
 * `CB_FEISHU_NETWORK`), fix the credentials (`CB_FEISHU_AUTH`) or give up on this request
 * (`CB_FEISHU_REJECTED`). Feishu's own code and message go in `details`.
 */
export function classifyFeishuError(error: unknown, operation: string): ClawbridgeError {
  if (error instanceof ClawbridgeError) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as HttpLikeError;
  const status = e.response?.status;
  const body = e.response?.data;
  const { code: feishuCode, msg: feishuMsg } = codeAndMsg(body);
  const details = { operation, httpStatus: status, feishuCode, feishuMsg };
  // The SDK's token manager turns a refused token request into a plain Error with the code in its text.
  const tokenRefusal = /failed to get \w*access_token, code: (\d+), msg: (.*)$/.exec(e.message ?? "");
  if (!e.response && tokenRefusal) {
    return fromAnswer(operation, 200, Number(tokenRefusal[1]), tokenRefusal[2], undefined, error);
  }
  if (status === undefined) {
    const errno = e.code ?? "";
    if (NETWORK_CODES.has(errno) || !e.response) {
      return new ClawbridgeError(
        "CB_FEISHU_NETWORK",
        m.text("noAnswer", { operation, reason: errno || e.message || "network error" }),
        {
          fix: m.text("noAnswerFix"),
          details: { ...details, errno },
          cause: error,
        },
      );
    }
  }
  return fromAnswer(operation, status, feishuCode, feishuMsg, e.response?.headers, error);
}

/** A 200 answer whose body says `code !== 0` (the SDK does not throw for those). */
export function classifyFeishuBody(body: unknown, operation: string): ClawbridgeError | undefined {
  const { code, msg } = codeAndMsg(body);
  if (code === undefined || code === 0) return undefined;
  return fromAnswer(operation, 200, code, msg, undefined, undefined);
}

function fromAnswer(
  operation: string,
  status: number | undefined,
  feishuCode: number | undefined,
  feishuMsg: string | undefined,
  headers: Record<string, unknown> | undefined,
  cause: unknown,
): ClawbridgeError {
  const details = { operation, httpStatus: status, feishuCode, feishuMsg };
  // Feishu's own words stay as Feishu wrote them; the frame around them is ours.
  const said = m.text("feishuSaid", {
    operation,
    said: `${feishuMsg ?? "error"}${feishuCode !== undefined ? ` (code ${feishuCode})` : ""}${status ? `, HTTP ${status}` : ""}`,
  });
  const appLimited = status === 429 || (feishuCode !== undefined && APP_RATE_LIMIT_CODES.has(feishuCode));
  if (appLimited || (feishuCode !== undefined && CHAT_RATE_LIMIT_CODES.has(feishuCode))) {
    return new ClawbridgeError("CB_FEISHU_RATE_LIMITED", said, {
      retryAfterMs: resetMs(headers) ?? DEFAULT_RATE_LIMIT_WAIT_MS,
      details: {
        ...details,
        scope: appLimited ? "app" : "chat",
        limit: header(headers, "x-ogw-ratelimit-limit"),
      },
      cause,
    });
  }
  if (feishuCode !== undefined && AUTH_CODES.has(feishuCode)) {
    return new ClawbridgeError("CB_FEISHU_AUTH", said, {
      fix: m.text("credentialsFix"),
      details,
      cause,
    });
  }
  if (status !== undefined && status >= 500) {
    return new ClawbridgeError("CB_FEISHU_SERVER", said, { details, cause });
  }
  return new ClawbridgeError("CB_FEISHU_REJECTED", said, { details, cause });
}

function codeAndMsg(body: unknown): { code?: number; msg?: string } {
  if (typeof body !== "object" || body === null) return {};
  const b = body as { code?: unknown; msg?: unknown };
  return {
    code: typeof b.code === "number" ? b.code : undefined,
    msg: typeof b.msg === "string" ? b.msg : undefined,
  };
}

function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const get = (headers as { get?: (n: string) => unknown }).get;
  const value = typeof get === "function" ? get.call(headers, name) : headers[name];
  return value === undefined || value === null ? undefined : String(value);
}

/** `x-ogw-ratelimit-reset` is seconds until the quota window resets. */
function resetMs(headers: Record<string, unknown> | undefined): number | undefined {
  const raw = header(headers, "x-ogw-ratelimit-reset");
  const seconds = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.max(200, Math.ceil(seconds * 1000)) : undefined;
}

/** Feishu's own code in an error of ours, whatever our code is. */
export function feishuCodeOf(error: ClawbridgeError): number | undefined {
  const details = error.details as { feishuCode?: unknown };
  return typeof details.feishuCode === "number" ? details.feishuCode : undefined;
}
