import { z } from "zod";
import {
  ClawbridgeError,
  ERROR_CODES,
  isClawbridgeError,
  isLocalText,
  LOCALES,
  type ErrorCode,
  type ErrorDetails,
  type Locale,
  type LocalText,
  type Params,
} from "../core/index.js";

// A gateway's errors carried from the replica that hosts it to the one that asked: the code,
// `retryable` and the details stay as they were, so the caller's `isRunFailure`/`isRetryable`
// decide exactly as they would next to the gateway, and the texts keep both languages.

const wireTextSchema = z.object({
  key: z.string(),
  params: z.record(z.string(), z.union([z.string(), z.number()])),
  rendered: z.record(z.string(), z.string()),
});
type WireText = z.infer<typeof wireTextSchema>;

export const wireErrorSchema = z.object({
  /** Absent: not one of our errors (a library's, a bug): the caller takes it as transient, as it would here. */
  code: z.string().optional(),
  message: z.string(),
  text: wireTextSchema.optional(),
  fix: wireTextSchema.optional(),
  retryable: z.boolean().optional(),
  retryAfterMs: z.number().optional(),
  expose: z.boolean().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type WireError = z.infer<typeof wireErrorSchema>;

/** A `LocalText` inside `details` (e.g. `reasonText`), marked so it becomes one again. */
const TEXT_MARK = "$localText";

function textToWire(text: LocalText): WireText {
  const params: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(text.params)) {
    params[name] = isLocalText(value) ? value.render("en") : value;
  }
  const rendered: Record<string, string> = {};
  for (const locale of LOCALES) rendered[locale] = text.render(locale);
  return { key: text.key, params, rendered };
}

function textFromWire(wire: WireText): LocalText {
  return {
    key: wire.key,
    params: wire.params as Params,
    render: (locale: Locale) => wire.rendered[locale] ?? wire.rendered.en ?? "",
  };
}

export function errorToWire(error: unknown): WireError {
  if (!isClawbridgeError(error)) {
    return { message: error instanceof Error ? error.message : String(error) };
  }
  const details: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(error.details as Record<string, unknown>)) {
    details[name] = isLocalText(value) ? { [TEXT_MARK]: textToWire(value) } : value;
  }
  return {
    code: error.code,
    message: error.message,
    text: textToWire(error.text),
    ...(error.fixText ? { fix: textToWire(error.fixText) } : {}),
    retryable: error.retryable,
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    expose: error.expose,
    details,
  };
}

function isErrorCode(code: string | undefined): code is ErrorCode {
  return code !== undefined && Object.hasOwn(ERROR_CODES, code);
}

export function errorFromWire(wire: WireError): Error {
  if (!isErrorCode(wire.code)) return new Error(wire.message);
  const details: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(wire.details ?? {})) {
    const marked = typeof value === "object" && value !== null && TEXT_MARK in value;
    const parsed = marked
      ? wireTextSchema.safeParse((value as Record<string, unknown>)[TEXT_MARK])
      : undefined;
    details[name] = parsed?.success ? textFromWire(parsed.data) : value;
  }
  const text = wire.text ? textFromWire(wire.text) : wire.message;
  return new ClawbridgeError(wire.code, text, {
    ...(wire.fix ? { fix: textFromWire(wire.fix) } : {}),
    ...(wire.retryable !== undefined ? { retryable: wire.retryable } : {}),
    ...(wire.retryAfterMs !== undefined ? { retryAfterMs: wire.retryAfterMs } : {}),
    ...(wire.expose !== undefined ? { expose: wire.expose } : {}),
    details: details as ErrorDetails<typeof wire.code>,
  });
}
