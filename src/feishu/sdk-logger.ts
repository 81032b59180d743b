import { scrubPatterns, type Logger } from "../core/index.js";

/** The logger shape `@larksuiteoapi/node-sdk` accepts (`logger` option of Client, WSClient, dispatchers). */
export interface SdkLogger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  trace(...args: unknown[]): void;
}

const MAX_PART_CHARS = 2_000;

/**
 * Routes the SDK's log calls into pino. The SDK logs whole request configs on failure
 * (`app_secret` in the token request body, `Authorization: Bearer …` headers), so every
 * argument is reduced to safe text here — errors to message/status/code, objects to a
 * bounded JSON dump with secret-shaped text scrubbed — and pino's own redaction (known
 * secret values, paths) runs on the result as a second line of defence.
 *
 * The SDK is chatty at info ("client ready", "event-dispatch is ready"); its info lines
 * are logged at debug so a bridge's info log stays ours.
 */
export function sdkLogger(logger: Logger): SdkLogger {
  const log = logger.child({ component: "feishu-sdk" });
  const emit = (level: "error" | "warn" | "debug" | "trace", args: unknown[]) => {
    if (!log.isLevelEnabled(level)) return;
    log[level](scrubPatterns(args.map(describeArg).join(" ")));
  };
  return {
    error: (...args) => emit("error", args),
    warn: (...args) => emit("warn", args),
    info: (...args) => emit("debug", args),
    debug: (...args) => emit("debug", args),
    trace: (...args) => emit("trace", args),
  };
}

function describeArg(arg: unknown): string {
  if (typeof arg === "string") return truncate(arg);
  if (arg instanceof Error) return describeError(arg);
  if (Array.isArray(arg)) return arg.map(describeArg).join(" ");
  if (typeof arg === "object" && arg !== null) return truncate(safeJson(withoutSecrets(arg)));
  return String(arg);
}

/** An axios error carries the request config (headers, body): keep only what helps a person. */
function describeError(error: Error): string {
  const e = error as Error & {
    code?: string;
    config?: { method?: string; url?: string };
    response?: { status?: number; data?: unknown };
  };
  const parts = [e.message];
  if (e.config?.method || e.config?.url)
    parts.push(`${(e.config.method ?? "").toUpperCase()} ${e.config.url ?? ""}`);
  if (e.response?.status) parts.push(`status ${e.response.status}`);
  if (e.response?.data !== undefined) parts.push(truncate(safeJson(withoutSecrets(e.response.data))));
  else if (e.code) parts.push(e.code);
  return parts.join(" — ");
}

const SECRET_FIELD = /secret|token|authorization|password|encrypt/i;

/** Drops secret-named fields and request configs at any depth (objects the SDK dumps). */
function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_FIELD.test(key)) out[key] = "[REDACTED]";
    else if (key === "headers" || key === "request") continue;
    else out[key] = withoutSecrets(v, depth + 1);
  }
  return out;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return "[unserialisable]";
  }
}

function truncate(text: string): string {
  return text.length > MAX_PART_CHARS ? `${text.slice(0, MAX_PART_CHARS)}…` : text;
}
