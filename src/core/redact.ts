/**
 * Secret redaction for log output, by value. Path redaction (pino `redact`) catches
 * `{appSecret: …}`; secrets also hide inside URLs, error messages and SDK dumps, so every
 * serialized line is also scrubbed for known secret values and for secret-shaped patterns.
 */
export const REDACTED = "[REDACTED]";

/** Keys whose values are secrets wherever they appear (case-insensitive match on the key). */
export const SECRET_KEYS = [
  "appSecret",
  "app_secret",
  "encryptKey",
  "encrypt_key",
  "verificationToken",
  "verification_token",
  "token",
  "deviceToken",
  "tenant_access_token",
  "app_access_token",
  "user_access_token",
  "access_token",
  "refresh_token",
  "authorization",
  "Authorization",
  "password",
  "secret",
  "privateKey",
  // Feishu's long-connection URL carries a short-lived ticket (and access_key) the SDK logs at debug.
  "ticket",
  "access_key",
] as const;

/** pino `redact` paths: the keys at the top and up to four levels deep. */
export function secretRedactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) {
    paths.push(key);
    for (let depth = 1; depth <= 4; depth++) paths.push(`${"*.".repeat(depth)}${key}`);
  }
  paths.push('headers["authorization"]', 'req.headers["authorization"]', 'config.headers["Authorization"]');
  return paths;
}

// Secret-shaped text: bearer tokens, `key=value` in query strings and form bodies, and
// `"key":"value"` inside JSON that was stringified into a message.
const KEY_ALTERNATION = SECRET_KEYS.join("|");
const PATTERNS: RegExp[] = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g,
  new RegExp(`\\b(${KEY_ALTERNATION})=([^&\\s"'\\\\]+)`, "gi"),
  new RegExp(`(\\\\?"(?:${KEY_ALTERNATION})\\\\?"\\s*:\\s*\\\\?")([^"\\\\]+)`, "gi"),
];

/** Known secret values, shared by a logger and all its children; tokens learned at run time are added. */
export class SecretRegistry {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Secrets shorter than 6 characters are not scrubbed by value (they would blank ordinary words). */
  add(value: string | undefined | null): void {
    if (typeof value !== "string" || value.length < 6 || this.values.has(value)) return;
    this.values.add(value);
    // JSON-escaped and URL-encoded forms appear in serialized lines too.
    this.values.add(JSON.stringify(value).slice(1, -1));
    this.values.add(encodeURIComponent(value));
    this.pattern = undefined;
  }

  get size(): number {
    return this.values.size;
  }

  /**
   * Only the known values, not the secret-shaped patterns: for other people's text the bridge
   * passes on (agents' answers), where "token=…" may be what the person asked about.
   */
  scrubValues(text: string): string {
    if (this.values.size === 0 || text.length === 0) return text;
    this.pattern ??= this.valuesPattern();
    return text.replace(this.pattern, REDACTED);
  }

  private valuesPattern(): RegExp {
    return new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
  }

  scrub(text: string): string {
    let out = text;
    if (this.values.size > 0) {
      this.pattern ??= this.valuesPattern();
      out = out.replace(this.pattern, REDACTED);
    }
    return scrubPatterns(out);
  }
}

export function scrubPatterns(text: string): string {
  return text
    .replace(PATTERNS[0]!, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(PATTERNS[1]!, (_m, key: string) => `${key}=${REDACTED}`)
    .replace(PATTERNS[2]!, (_m, prefix: string) => `${prefix}${REDACTED}`);
}

/** A copy of `value` with `scrub` applied to every string in it (objects and arrays copied). */
export function scrubStrings(value: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (typeof value === "string") return scrub(value);
  if (value === null || typeof value !== "object" || depth > 32) return value;
  if (Array.isArray(value)) return value.map((item) => scrubStrings(item, scrub, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrubStrings(item, scrub, depth + 1);
  return out;
}
