import fs from "node:fs";
import path from "node:path";
import JSON5 from "json5";
import { errnoCode, REDACTED, type Locale, type Translate } from "../core/index.js";
import { ConfigError } from "./config-error.js";
import {
  interpolateEnv,
  interpolateString,
  readEnvFile,
  type EnvFile,
  type EnvVars,
  type InterpolationResult,
} from "./env.js";
import { formatIssue, issuesFromZod, type ConfigIssue } from "./issues.js";
import { configMessages, type ConfigMessageKey } from "./messages.js";
import { configSchema, type Config } from "./schema.js";
import { findLiteralSecrets } from "./secrets.js";

/** Where `findConfigFile` looks, after `CLAWBRIDGE_CONFIG`, relative to the working folder. */
export const CONFIG_FILE_CANDIDATES = [
  "clawbridge.json5",
  "clawbridge.json",
  "config/clawbridge.json5",
] as const;

/** Options of {@link parseConfigText}. */
export interface ParseConfigOptions {
  /** Variables for `${VAR}`; defaults to `process.env`. */
  env?: EnvVars;
  /** Folder that relative paths (`envFile`, `mailbox.root`, `state.dir`) are relative to; defaults to the cwd. */
  baseDir?: string;
  /** Language of error messages; defaults to "en". */
  locale?: Locale;
  /** Name used in messages for the text's origin (a file path). */
  sourceName?: string;
}

/** What {@link parseConfigText} returns. */
export interface ParsedConfig {
  /** Validated, defaults filled, paths absolute. */
  config: Config;
  /** Secret values that came from the environment, for the logger's `SecretRegistry`. */
  secrets: string[];
  /** The variables each key came from (`nodes[0].token` → `["AI_PC_TOKEN"]`), to name them in errors. */
  sources: Record<string, string[]>;
}

/** What {@link loadConfig} returns. */
export interface LoadedConfig extends ParsedConfig {
  /** Absolute path of the file read. */
  path: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The config file; when left out, `findConfigFile` decides. */
  path?: string;
  env?: EnvVars;
  locale?: Locale;
  /** Folder a relative `path` and the search start from; defaults to the cwd. */
  cwd?: string;
}

/** Options of {@link findConfigFile}; both default to the process's own. */
export interface FindConfigOptions {
  cwd?: string;
  env?: EnvVars;
}

/**
 * The config file to use: `CLAWBRIDGE_CONFIG` (returned even when missing, so that an
 * explicit choice fails loudly instead of falling back), then the first existing one of
 * {@link CONFIG_FILE_CANDIDATES}. Never the example file: it is documentation.
 */
export function findConfigFile(options: FindConfigOptions = {}): string | undefined {
  const cwd = options.cwd ?? process.cwd();
  const explicit = (options.env ?? process.env).CLAWBRIDGE_CONFIG;
  if (explicit) return path.resolve(cwd, explicit);
  for (const candidate of CONFIG_FILE_CANDIDATES) {
    const file = path.resolve(cwd, candidate);
    if (isFile(file)) return file;
  }
  return undefined;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Reads, interpolates and validates the config file. Synchronous on purpose: it runs once
 * at start-up (and on SIGHUP), and a small file read is not worth an async start path.
 * @throws ConfigError — CB_CONFIG_NOT_FOUND, CB_CONFIG_UNREADABLE, CB_CONFIG_SYNTAX,
 *   CB_CONFIG_ENV_MISSING (only variables missing) or CB_CONFIG_INVALID, with every issue.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const t = configMessages.t(options.locale ?? "en");
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const file = options.path ? path.resolve(cwd, options.path) : findConfigFile({ cwd, env });
  if (!file) {
    const candidates = CONFIG_FILE_CANDIDATES.map((c) => `./${c}`).join(", ");
    throw new ConfigError("CB_CONFIG_NOT_FOUND", t("noConfigFound", { candidates }), {
      fix: t("fixFileNotFound"),
    });
  }
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") {
      throw new ConfigError("CB_CONFIG_NOT_FOUND", t("fileNotFound", { file }), {
        fix: t("fixFileNotFound"),
        path: file,
        cause: error,
      });
    }
    throw new ConfigError(
      "CB_CONFIG_UNREADABLE",
      t("fileUnreadable", { file, reason: code ?? String(error) }),
      {
        fix: t("fixFileUnreadable"),
        path: file,
        cause: error,
      },
    );
  }
  const parsed = parseConfigText(text, {
    env,
    locale: options.locale,
    baseDir: path.dirname(file),
    sourceName: file,
  });
  return { ...parsed, path: file };
}

/**
 * Everything `loadConfig` does after reading the file: JSON5, literal-secret check, `${VAR}`
 * interpolation (with the envFile), validation, path resolution. All problems are collected
 * and thrown together in one {@link ConfigError}.
 */
export function parseConfigText(text: string, options: ParseConfigOptions = {}): ParsedConfig {
  const locale = options.locale ?? "en";
  const t = configMessages.t(locale);
  const env = options.env ?? process.env;
  const baseDir = path.resolve(options.baseDir ?? process.cwd());
  const source = options.sourceName ?? "config";

  const raw = parseJson5(text.replace(/^\uFEFF/, ""), source, t);
  const issues: ConfigIssue[] = [];
  const envFile = openEnvFile(raw, env, baseDir, t, issues);
  const interpolated = dropUnusedWebhookSecrets(interpolateEnv(raw, { env, envFile, locale }));
  const envIssues = [...interpolated.invalid, ...interpolated.missing];
  // A secret with a broken reference ("${TOKEN") was meant as a reference: say that, not "literal".
  const broken = new Set(interpolated.invalid.map((issue) => issue.key));
  issues.unshift(...findLiteralSecrets(raw, locale).filter((issue) => !broken.has(issue.key)));
  issues.push(...envIssues);

  const result = configSchema.safeParse(interpolated.value, { reportInput: true });
  if (!result.success) {
    // A key whose variable is missing still holds "${VAR}"; what the schema thinks of that is noise.
    const skipped = envIssues.map((issue) => issue.key);
    const covered = (key: string) =>
      skipped.some((k) => key === k || key.startsWith(`${k}.`) || key.startsWith(`${k}[`));
    issues.push(...issuesFromZod(result.error.issues, locale).filter((issue) => !covered(issue.key)));
  }

  if (issues.length > 0 || !result.success) {
    const onlyEnv = issues.length > 0 && issues.every((issue) => interpolated.missing.includes(issue));
    throw issuesError(
      issues,
      onlyEnv ? "CB_CONFIG_ENV_MISSING" : "CB_CONFIG_INVALID",
      source,
      t,
      interpolated.secrets,
    );
  }

  const config = result.data;
  // Relative paths mean "next to the config file", wherever the bridge was started from.
  config.mailbox.root = path.resolve(baseDir, config.mailbox.root);
  config.state.dir = path.resolve(baseDir, config.state.dir);
  if (config.envFile !== undefined) config.envFile = envFile?.path ?? path.resolve(baseDir, config.envFile);
  return { config, secrets: interpolated.secrets, sources: interpolated.sources };
}

/** Keys that only the webhook mode reads (verifying Feishu's requests). */
const WEBHOOK_SECRET_KEYS = ["encryptKey", "verificationToken"] as const;

/**
 * The long connection needs neither webhook secret: in that mode a `${VAR}` for them whose
 * variable is not set is left out instead of refused, so a copy of the example config (which
 * shows every key) starts without FEISHU_ENCRYPT_KEY or FEISHU_VERIFICATION_TOKEN. In
 * "webhook" mode a missing variable stays an error: that mode checks every request with them.
 */
function dropUnusedWebhookSecrets(result: InterpolationResult): InterpolationResult {
  const tree = result.value;
  const feishu = isRecord(tree) ? tree.feishu : undefined;
  if (!isRecord(tree) || !isRecord(feishu) || feishu.mode === "webhook") return result;
  const unset = WEBHOOK_SECRET_KEYS.filter((name) =>
    result.missing.some((issue) => issue.key === `feishu.${name}`),
  );
  if (unset.length === 0) return result;
  const keys = new Set(unset.map((name) => `feishu.${name}`));
  const kept = Object.fromEntries(Object.entries(feishu).filter(([name]) => !keys.has(`feishu.${name}`)));
  return {
    ...result,
    value: { ...tree, feishu: kept },
    missing: result.missing.filter((issue) => !keys.has(issue.key)),
    sources: Object.fromEntries(Object.entries(result.sources).filter(([key]) => !keys.has(key))),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson5(text: string, source: string, t: Translate<ConfigMessageKey>): unknown {
  try {
    return JSON5.parse(text);
  } catch (error) {
    const { lineNumber: line = 1, columnNumber: column = 1 } = error as {
      lineNumber?: number;
      columnNumber?: number;
    };
    const reason = String((error as Error).message ?? error)
      .replace(/^JSON5:\s*/, "")
      .replace(/\s+at \d+:\d+$/, "");
    throw new ConfigError("CB_CONFIG_SYNTAX", t("syntax", { file: source, line, column, reason }), {
      fix: t("fixSyntax", { line, column }),
      path: source,
      details: { line, column },
      cause: error,
    });
  }
}

/**
 * Opens the env file named by `envFile` (itself interpolated from the real environment only,
 * since the file cannot name itself). A missing file is fine; an unreadable one is an issue.
 */
function openEnvFile(
  raw: unknown,
  env: EnvVars,
  baseDir: string,
  t: Translate<ConfigMessageKey>,
  issues: ConfigIssue[],
): EnvFile | undefined {
  const declared =
    typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>).envFile : undefined;
  if (typeof declared !== "string" || declared === "") return undefined;
  const named = interpolateString(declared, (name) => env[name]);
  if (named.missing.length > 0 || named.malformed.length > 0) return undefined;
  const file = path.resolve(baseDir, named.text);
  try {
    return readEnvFile(file);
  } catch (error) {
    const reason = errnoCode(error) ?? String(error);
    issues.push({
      key: "envFile",
      message: t("envFileUnreadable", { file, reason }),
      fix: t("fixEnvFileUnreadable"),
    });
    return undefined;
  }
}

function issuesError(
  issues: ConfigIssue[],
  code: "CB_CONFIG_INVALID" | "CB_CONFIG_ENV_MISSING",
  source: string,
  t: Translate<ConfigMessageKey>,
  secrets: readonly string[],
): ConfigError {
  // Messages quote values, and a value may hold an interpolated secret (a token in a URL).
  const scrub = (text: string) =>
    secrets.reduce((out, secret) => (secret.length >= 4 ? out.split(secret).join(REDACTED) : out), text);
  const safe = issues.map((issue) => ({
    key: issue.key,
    message: scrub(issue.message),
    fix: scrub(issue.fix),
  }));
  const lines = safe.map((issue) => `  ${formatIssue(issue)}`);
  const message = [t("summary", { file: source, count: safe.length }), ...lines].join("\n");
  return new ConfigError(code, message, {
    fix: safe.length === 1 ? safe[0]!.fix : t("fixSummary"),
    issues: safe,
    path: source,
  });
}
