import { REDACTED } from "../../core/index.js";
import type { CallRecord } from "./types.js";

/** Newest calls kept. */
export const MAX_CALLS = 50_000;

// Keys whose values never enter the log, wherever they appear in a body.
const SECRET_KEY = /secret|token|password|encrypt_?key|authorization|ticket|assertion/i;

/**
 * Every Open API and endpoint call, bounded. Bodies are stored parsed with secrets
 * replaced: by key (app_secret, AppSecret, *token*…) and by value (any known secret).
 */
export class CallLog {
  readonly calls: CallRecord[] = [];
  private readonly secrets = new Set<string>();

  /** Values scrubbed wherever they appear (app secrets, issued tokens). */
  addSecret(value: string): void {
    if (value.length >= 8) this.secrets.add(value);
  }

  add(record: CallRecord): void {
    this.calls.push({ ...record, body: this.redact(record.body) });
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
  }

  /** Calls whose path starts with the string or matches the regex. */
  to(path: string | RegExp): CallRecord[] {
    return this.calls.filter((c) => (typeof path === "string" ? c.path.startsWith(path) : path.test(c.path)));
  }

  redact(value: unknown, depth = 0): unknown {
    if (typeof value === "string") return this.scrub(value);
    if (depth > 20 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => this.redact(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && v !== undefined && v !== "" ? REDACTED : this.redact(v, depth + 1);
    }
    return out;
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }
}
