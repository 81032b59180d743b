import { isLocalText, literalText, type Locale, type LocalText } from "./i18n.js";
import type { LockRecord } from "./lock-record.js";

/**
 * Where a failure came from, which says who can do something about it:
 * - `feishu`: the Feishu Open Platform answered no (credentials, limits, a rejected message);
 * - `gateway`: a node's OpenClaw gateway answered no (pairing, token, scope, a refused request);
 * - `network`: nobody answered (refused, reset, timed out, closed);
 * - `fs`: the file system failed or is held (the shared folder, the state folder, a lock);
 * - `input`: what we were given is wrong (config, command line, an envelope, a webhook);
 * - `limit`: one of our own bounds is reached (a full outbox): wait or raise it;
 * - `internal`: a bug of ours.
 */
export type ErrorOrigin = "feishu" | "gateway" | "network" | "fs" | "input" | "limit" | "internal";

/**
 * The stable codes (part of the public contract: logs, `--json` output, metric labels), each
 * with its origin and whether trying again can help.
 */
export const ERROR_CODES = {
  CB_CONFIG_NOT_FOUND: { origin: "input", retryable: false },
  CB_CONFIG_UNREADABLE: { origin: "fs", retryable: false },
  CB_CONFIG_SYNTAX: { origin: "input", retryable: false },
  CB_CONFIG_INVALID: { origin: "input", retryable: false },
  CB_CONFIG_ENV_MISSING: { origin: "input", retryable: false },
  CB_MAILBOX_INVALID_NODE: { origin: "input", retryable: false },
  CB_MAILBOX_INVALID_ENVELOPE: { origin: "input", retryable: false },
  CB_MAILBOX_LOCKED: { origin: "fs", retryable: true },
  CB_MAILBOX_ROOT_MISSING: { origin: "fs", retryable: false },
  CB_MAILBOX_IO: { origin: "fs", retryable: true },
  CB_STATE_IO: { origin: "fs", retryable: true },
  CB_STATE_LOCKED: { origin: "fs", retryable: false },
  CB_STATE_NEWER: { origin: "fs", retryable: false },
  CB_LEASE_HELD: { origin: "fs", retryable: false },
  CB_LEASE_LOST: { origin: "fs", retryable: false },
  CB_OUTBOX_FULL: { origin: "limit", retryable: true },
  CB_HTTP_LISTEN: { origin: "network", retryable: false },
  CB_GATEWAY_IDENTITY: { origin: "fs", retryable: false },
  CB_GATEWAY_UNREACHABLE: { origin: "network", retryable: true },
  CB_GATEWAY_TIMEOUT: { origin: "network", retryable: true },
  CB_GATEWAY_CLOSED: { origin: "network", retryable: true },
  CB_GATEWAY_PROTOCOL_MISMATCH: { origin: "gateway", retryable: false },
  CB_GATEWAY_AUTH: { origin: "gateway", retryable: false },
  CB_GATEWAY_PAIRING_REQUIRED: { origin: "gateway", retryable: true },
  CB_GATEWAY_FORBIDDEN: { origin: "gateway", retryable: false },
  CB_GATEWAY_REQUEST_FAILED: { origin: "gateway", retryable: false },
  CB_GATEWAY_RUN_FAILED: { origin: "gateway", retryable: false },
  CB_GATEWAY_ABORTED: { origin: "gateway", retryable: false },
  CB_GATEWAY_BAD_FRAME: { origin: "gateway", retryable: false },
  CB_NODE_NO_GATEWAY: { origin: "input", retryable: false },
  CB_NODE_STATUS_MISSING: { origin: "fs", retryable: true },
  CB_NODE_STATUS_INVALID: { origin: "input", retryable: true },
  CB_NODE_STATUS_STALE: { origin: "fs", retryable: true },
  CB_FEISHU_AUTH: { origin: "feishu", retryable: false },
  CB_FEISHU_RATE_LIMITED: { origin: "feishu", retryable: true },
  CB_FEISHU_SERVER: { origin: "feishu", retryable: true },
  CB_FEISHU_NETWORK: { origin: "network", retryable: true },
  CB_FEISHU_REJECTED: { origin: "feishu", retryable: false },
  CB_FEISHU_QUEUE_CLOSED: { origin: "internal", retryable: false },
  CB_WEBHOOK_REJECTED: { origin: "input", retryable: false },
  CB_INTAKE_BUSY: { origin: "limit", retryable: true },
  CB_REDIS_UNREACHABLE: { origin: "network", retryable: true },
  CB_USAGE: { origin: "input", retryable: false },
  CB_INTERNAL: { origin: "internal", retryable: false },
} as const satisfies Record<string, { origin: ErrorOrigin; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What Feishu answered to one call. */
export interface FeishuCallDetails {
  operation?: string;
  httpStatus?: number;
  feishuCode?: number;
  feishuMsg?: string;
}

/** What a gateway said no with, its own codes kept. */
export interface GatewayRefusalDetails {
  node: string;
  method: string;
  /** `error.code` of the gateway's answer (`INVALID_REQUEST`, `NOT_PAIRED` …). */
  gatewayCode: string;
  /** `error.details.code` (`AUTH_TOKEN_MISMATCH`, `PAIRING_REQUIRED` …). */
  detailCode?: string;
  gatewayDetails?: Record<string, unknown>;
  /** `error.message` of the gateway's answer: its own words, for people, never to decide on. */
  gatewayMessage?: string;
}

/** The details each code carries: typed, so callers read fields instead of guessing. */
export interface ErrorDetailsMap {
  CB_CONFIG_NOT_FOUND: { path?: string };
  CB_CONFIG_UNREADABLE: { path?: string; errno?: string };
  CB_CONFIG_SYNTAX: { path?: string; line?: number; column?: number };
  CB_CONFIG_INVALID: { path?: string; keys?: string[] };
  CB_CONFIG_ENV_MISSING: { path?: string; keys?: string[] };
  CB_MAILBOX_INVALID_NODE: { name?: string; role?: string };
  CB_MAILBOX_INVALID_ENVELOPE: { problems?: string[] };
  CB_MAILBOX_LOCKED: { lockFile: string; holder?: LockRecord };
  CB_MAILBOX_ROOT_MISSING: { root?: string };
  CB_MAILBOX_IO: { file?: string; errno?: string };
  CB_STATE_IO: { file?: string; errno?: string };
  CB_STATE_LOCKED: { lockFile: string; holder?: LockRecord };
  /** A state file in a format this release does not know yet (written by a newer one). */
  CB_STATE_NEWER: { file: string; found: number; supported: number; kind?: string };
  CB_LEASE_HELD: { leaseFile: string; holder?: LockRecord; ttlMs?: number };
  CB_LEASE_LOST: { leaseFile: string; holder?: LockRecord; reason: "taken-over" | "expired" };
  CB_OUTBOX_FULL: { target: string; pending: number; capacity: number };
  CB_HTTP_LISTEN: { host: string; port: number; errno?: string };
  CB_GATEWAY_IDENTITY: { file?: string };
  CB_GATEWAY_UNREACHABLE: {
    node?: string;
    url?: string;
    lastError?: ErrorCode;
    /** Why the last attempt failed, in English (logs, `--json`). */
    reason?: string;
    /** The same, to render in the reader's language. */
    reasonText?: LocalText;
  };
  CB_GATEWAY_TIMEOUT: { node?: string; method?: string; runId?: string };
  CB_GATEWAY_CLOSED: { node?: string; method?: string; runId?: string };
  CB_GATEWAY_PROTOCOL_MISMATCH: { node: string; theirs?: unknown };
  CB_GATEWAY_AUTH: {
    node: string;
    tokenSource?: string;
    missing?: boolean;
    /** The gateway's `AUTH_*` code (`AUTH_TOKEN_MISMATCH`, `AUTH_RATE_LIMITED` …). */
    detailCode?: string;
    /** The stored device token was tried after the shared token, and refused too. */
    triedDeviceToken?: boolean;
  };
  CB_GATEWAY_PAIRING_REQUIRED: { node: string; requestId: string; command: string };
  CB_GATEWAY_FORBIDDEN: GatewayRefusalDetails;
  CB_GATEWAY_REQUEST_FAILED: GatewayRefusalDetails;
  CB_GATEWAY_RUN_FAILED: { node?: string; runId?: string; status?: string } & Partial<GatewayRefusalDetails>;
  CB_GATEWAY_ABORTED: { node?: string; runId?: string };
  CB_GATEWAY_BAD_FRAME: { node?: string };
  CB_NODE_NO_GATEWAY: { node?: string };
  CB_NODE_STATUS_MISSING: { node?: string; file?: string };
  CB_NODE_STATUS_INVALID: { node?: string; file?: string };
  CB_NODE_STATUS_STALE: { node?: string; file?: string; ageMs?: number };
  CB_FEISHU_AUTH: FeishuCallDetails;
  CB_FEISHU_RATE_LIMITED: FeishuCallDetails & { scope?: "app" | "chat" | "message"; limit?: string };
  CB_FEISHU_SERVER: FeishuCallDetails;
  CB_FEISHU_NETWORK: FeishuCallDetails & { errno?: string };
  CB_FEISHU_REJECTED: FeishuCallDetails;
  CB_FEISHU_QUEUE_CLOSED: Record<string, never>;
  CB_WEBHOOK_REJECTED: { reason?: string };
  CB_INTAKE_BUSY: { eventId?: string; budgetMs?: number };
  CB_REDIS_UNREACHABLE: Record<string, never>;
  CB_USAGE: Record<string, never>;
  CB_INTERNAL: Record<string, never>;
}

export type ErrorDetails<C extends ErrorCode> = ErrorDetailsMap[C];

export interface ClawbridgeErrorOptions<C extends ErrorCode = ErrorCode> {
  /** One sentence telling a person how to fix it. */
  fix?: string | LocalText;
  /**
   * Safe to show verbatim to whoever caused it (a chat, an HTTP client). Defaults to false:
   * a message may name files, hosts and internals; say so where it is meant for people.
   */
  expose?: boolean;
  retryable?: boolean;
  retryAfterMs?: number;
  details?: ErrorDetails<C>;
  cause?: unknown;
}

/**
 * A typed error with a stable code. Its message and fix are texts with a key and parameters
 * (see `LocalText`), so the CLI, doctor, logs and chat cards render them in their reader's
 * language; `message` itself is the English rendering, for logs and stack traces.
 */
export class ClawbridgeError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly origin: ErrorOrigin;
  readonly text: LocalText;
  readonly fixText: LocalText | undefined;
  readonly expose: boolean;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: ErrorDetails<C>;

  constructor(code: C, message: string | LocalText, options: ClawbridgeErrorOptions<C> = {}) {
    const text = isLocalText(message) ? message : literalText(message);
    super(text.render("en"), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClawbridgeError";
    this.code = code;
    this.origin = ERROR_CODES[code].origin;
    this.text = text;
    this.fixText =
      options.fix === undefined
        ? undefined
        : isLocalText(options.fix)
          ? options.fix
          : literalText(options.fix);
    this.expose = options.expose ?? false;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? ({} as ErrorDetails<C>);
  }

  /** The fix in English (logs); `render(locale)` gives it in another language. */
  get fix(): string | undefined {
    return this.fixText?.render("en");
  }

  /** Message and fix in the reader's language. */
  render(locale: Locale): { message: string; fix?: string } {
    const fix = this.fixText?.render(locale);
    return fix === undefined
      ? { message: this.text.render(locale) }
      : { message: this.text.render(locale), fix };
  }

  /** Message plus fix on one line, the way a CLI prints it. */
  describe(locale: Locale = "en"): string {
    const { message, fix } = this.render(locale);
    return fix ? `${message} — ${fix}` : message;
  }

  /** The stable, machine-readable form (`--json` output, HTTP error bodies). */
  toJSON(locale: Locale = "en"): Record<string, unknown> {
    return {
      code: this.code,
      origin: this.origin,
      key: this.text.key,
      ...this.render(locale),
      retryable: this.retryable,
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}

export function isClawbridgeError<C extends ErrorCode = ErrorCode>(
  error: unknown,
  code?: C,
): error is ClawbridgeError<C> {
  return error instanceof ClawbridgeError && (code === undefined || error.code === code);
}

/**
 * Whether trying the same thing again may succeed. Our errors say so; anything else
 * (a thrown `TypeError`, a rejected promise of a library) is taken as transient, so a bug
 * never loses work silently — it is retried and logged until someone looks.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof ClawbridgeError ? error.retryable : true;
}

/** A bug of ours surfacing: wraps what was thrown with `CB_INTERNAL`. */
export function internalError(message: string, cause?: unknown): ClawbridgeError<"CB_INTERNAL"> {
  return new ClawbridgeError("CB_INTERNAL", message, { cause });
}

/** The Node.js errno code of an fs error, if any (`ENOENT`, `EEXIST` …). */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
