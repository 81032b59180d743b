/**
 * Typed errors with stable codes. `code` is part of the public contract (logs, `--json`
 * output, metrics labels); `expose` says whether the message may be shown to users as is;
 * `fix` is one sentence telling a person what to do.
 */
export const ERROR_CODES = {
  CB_CONFIG_NOT_FOUND: { retryable: false },
  CB_CONFIG_UNREADABLE: { retryable: false },
  CB_CONFIG_SYNTAX: { retryable: false },
  CB_CONFIG_INVALID: { retryable: false },
  CB_CONFIG_ENV_MISSING: { retryable: false },
  CB_MAILBOX_INVALID_NODE: { retryable: false },
  CB_MAILBOX_INVALID_ENVELOPE: { retryable: false },
  CB_MAILBOX_LOCKED: { retryable: true },
  CB_MAILBOX_ROOT_MISSING: { retryable: false },
  CB_MAILBOX_IO: { retryable: true },
  CB_STATE_IO: { retryable: true },
  CB_STATE_LOCKED: { retryable: false },
  CB_LEASE_HELD: { retryable: false },
  CB_LEASE_LOST: { retryable: false },
  CB_HTTP_LISTEN: { retryable: false },
  CB_GATEWAY_IDENTITY: { retryable: false },
  CB_GATEWAY_UNREACHABLE: { retryable: true },
  CB_GATEWAY_TIMEOUT: { retryable: true },
  CB_GATEWAY_CLOSED: { retryable: true },
  CB_GATEWAY_PROTOCOL_MISMATCH: { retryable: false },
  CB_GATEWAY_AUTH: { retryable: false },
  CB_GATEWAY_PAIRING_REQUIRED: { retryable: true },
  CB_GATEWAY_FORBIDDEN: { retryable: false },
  CB_GATEWAY_REQUEST_FAILED: { retryable: false },
  CB_GATEWAY_RUN_FAILED: { retryable: false },
  CB_GATEWAY_ABORTED: { retryable: false },
  CB_GATEWAY_BAD_FRAME: { retryable: false },
  CB_NODE_NO_GATEWAY: { retryable: false },
  CB_NODE_STATUS_MISSING: { retryable: true },
  CB_NODE_STATUS_INVALID: { retryable: true },
  CB_NODE_STATUS_STALE: { retryable: true },
  CB_FEISHU_AUTH: { retryable: false },
  CB_FEISHU_RATE_LIMITED: { retryable: true },
  CB_FEISHU_SERVER: { retryable: true },
  CB_FEISHU_NETWORK: { retryable: true },
  CB_FEISHU_REJECTED: { retryable: false },
  CB_FEISHU_QUEUE_CLOSED: { retryable: false },
  CB_WEBHOOK_REJECTED: { retryable: false },
  CB_USAGE: { retryable: false },
  CB_INTERNAL: { retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ClawbridgeErrorOptions {
  /** One sentence telling a person how to fix it. */
  fix?: string;
  /** Safe to show to users verbatim (chat, CLI). Defaults to true: our messages are written for people. */
  expose?: boolean;
  retryable?: boolean;
  retryAfterMs?: number;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class ClawbridgeError extends Error {
  readonly code: ErrorCode;
  readonly fix: string | undefined;
  readonly expose: boolean;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ClawbridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClawbridgeError";
    this.code = code;
    this.fix = options.fix;
    this.expose = options.expose ?? true;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }

  /** Message plus fix, the way a CLI prints it. */
  describe(): string {
    return this.fix ? `${this.message} — ${this.fix}` : this.message;
  }
}

export function isClawbridgeError(error: unknown, code?: ErrorCode): error is ClawbridgeError {
  return error instanceof ClawbridgeError && (code === undefined || error.code === code);
}

/** The Node.js errno code of an fs error, if any (`ENOENT`, `EEXIST` …). */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
