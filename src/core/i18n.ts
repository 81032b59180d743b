/** User-facing text exists in zh-CN and en; every catalog is checked for both at compile time. */
export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];

export type Params = Record<string, string | number>;
export type Catalog<K extends string> = Record<Locale, Record<K, string>>;
export type Translate<K extends string> = (key: K, params?: Params) => string;

/** Replaces `{name}` placeholders; an unknown placeholder stays visible rather than vanishing. */
export function interpolate(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function translator<K extends string>(catalog: Catalog<K>, locale: Locale): Translate<K> {
  const table = catalog[locale];
  return (key, params) => interpolate(table[key], params);
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/**
 * Picks the CLI's language: an explicit choice, then `CLAWBRIDGE_LANG`, then the usual
 * POSIX variables (`zh_CN.UTF-8` → zh-CN); English otherwise.
 */
export function detectLocale(env: NodeJS.ProcessEnv = process.env, explicit?: string): Locale {
  const candidates = [explicit, env.CLAWBRIDGE_LANG, env.LC_ALL, env.LC_MESSAGES, env.LANG];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const lower = candidate.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en") || lower === "c" || lower === "posix") return "en";
  }
  return "en";
}
