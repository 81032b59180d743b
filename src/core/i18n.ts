/**
 * User-facing text exists in zh-CN and en. Every module keeps its text in one `messages.ts`
 * written the same way: an `en` table, a `zhCN` table typed by the `en` keys (so a missing
 * translation fails to compile), joined by {@link defineMessages} under the module's name.
 */
export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];

/** The language the bridge speaks when nothing says otherwise (`feishu.locale`'s default). */
export const DEFAULT_LOCALE: Locale = "zh-CN";

/** Placeholder values; a `LocalText` value is rendered in the same language as its sentence. */
export type Params = Record<string, string | number | LocalText>;
export type Catalog<K extends string> = Record<Locale, Record<K, string>>;
export type Translate<K extends string> = (key: K, params?: Params) => string;

/**
 * A sentence not yet put into words: a message key with its parameters, rendered in the
 * reader's language when it is shown (a CLI in `--lang`, a chat in `feishu.locale`, a log
 * in English). Errors carry these, so one error reads right wherever it ends up.
 */
export interface LocalText {
  /** `<module>.<key>`, stable: part of `--json` output. */
  readonly key: string;
  readonly params: Params;
  render(locale: Locale): string;
}

/** A module's text tables with the two ways to use them. */
export interface Messages<K extends string> {
  readonly namespace: string;
  readonly catalog: Catalog<K>;
  /** Renders keys in one language now (chat replies, CLI output). */
  t(locale: Locale): Translate<K>;
  /** A key and its parameters, rendered later in whatever language the reader has. */
  text(key: K, params?: Params): LocalText;
}

export function defineMessages<K extends string>(
  namespace: string,
  en: Record<K, string>,
  zhCN: Record<K, string>,
): Messages<K> {
  const catalog: Catalog<K> = { en, "zh-CN": zhCN };
  return {
    namespace,
    catalog,
    t: (locale) => translator(catalog, locale),
    text: (key, params = {}) => ({
      key: `${namespace}.${key}`,
      params,
      render: (locale) => interpolate(catalog[locale][key], params, locale),
    }),
  };
}

/** Text that is the same in every language (a name, a path, a message a foreign system wrote). */
export function literalText(text: string): LocalText {
  return { key: "literal", params: { text }, render: () => text };
}

export function isLocalText(value: unknown): value is LocalText {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as LocalText).key === "string" &&
    typeof (value as LocalText).render === "function"
  );
}

/** Replaces `{name}` placeholders; an unknown placeholder stays visible rather than vanishing. */
export function interpolate(template: string, params: Params = {}, locale: Locale = "en"): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in params)) return whole;
    const value = params[name]!;
    return isLocalText(value) ? value.render(locale) : String(value);
  });
}

export function translator<K extends string>(catalog: Catalog<K>, locale: Locale): Translate<K> {
  const table = catalog[locale];
  return (key, params) => interpolate(table[key], params, locale);
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
