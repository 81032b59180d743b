import fs from "node:fs";
import { parseEnv } from "node:util";
import { errnoCode, type Locale, type Translate } from "../core/index.js";
import { dottedKey, type ConfigIssue } from "./issues.js";
import { configMessages, type ConfigMessageKey } from "./messages.js";
import { isSecretPath, SECRET_VARIABLE_PATTERN } from "./secrets.js";

/**
 * `${VAR}` interpolation in every string value of the parsed file. Variables come from the
 * environment passed in (never `process.env` read here, so tests and reloads are explicit),
 * then from the env file; the real environment wins, as with docker and systemd.
 */

/** Environment variables as `process.env` holds them. */
export type EnvVars = Readonly<Record<string, string | undefined>>;

/** The env file named by `envFile`, after trying to read it. */
export interface EnvFile {
  /** Absolute path. */
  path: string;
  /** False when the file does not exist (not an error: it is only needed for missing variables). */
  found: boolean;
  vars: Record<string, string>;
}

/**
 * Reads an env file (`KEY=value` lines, `#` comments, quotes) with Node's own parser. A
 * missing file gives `found: false`; any other read error is thrown to the caller.
 */
export function readEnvFile(filePath: string): EnvFile {
  let text: string;
  try {
    text = fs.readFileSync(filePath, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { path: filePath, found: false, vars: {} };
    throw error;
  }
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text.replace(/^\uFEFF/, "")))) {
    if (value !== undefined) vars[name] = value;
  }
  return { path: filePath, found: true, vars };
}

/** Options of {@link interpolateEnv}. */
export interface InterpolateOptions {
  env: EnvVars;
  envFile?: EnvFile | undefined;
  locale?: Locale;
}

/** What {@link interpolateEnv} returns: the new tree and what went wrong, never thrown. */
export interface InterpolationResult {
  /** The tree with every reference replaced (a string with a missing variable is left as written). */
  value: unknown;
  /** Values that must be redacted from logs: whatever went into a secret key, and secret-named variables. */
  secrets: string[];
  /** One issue per missing variable per key (CB_CONFIG_ENV_MISSING). */
  missing: ConfigIssue[];
  /** Malformed references such as `${}` or an unclosed `${NAME`. */
  invalid: ConfigIssue[];
  /** Which variables each key's value came from (`nodes[0].token` → `["AI_PC_TOKEN"]`), for messages that name them. */
  sources: Record<string, string[]>;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One string's interpolation, before anything is said about it. */
export interface StringInterpolation {
  text: string;
  /** Variables referenced, in order (each once). */
  used: string[];
  missing: string[];
  /** References that are not `${NAME}` (e.g. `${}`, `${A-B}`, an unclosed `${X`). */
  malformed: string[];
}

/**
 * Replaces every `${NAME}` in `text`; `$${` is a literal `${`. A missing variable or a
 * malformed reference is left in the text as written and reported.
 */
export function interpolateString(
  text: string,
  lookup: (name: string) => string | undefined,
): StringInterpolation {
  const result: StringInterpolation = { text: "", used: [], missing: [], malformed: [] };
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      result.text += "${";
      i += 3;
      continue;
    }
    if (!text.startsWith("${", i)) {
      result.text += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf("}", i + 2);
    const reference = close === -1 ? text.slice(i) : text.slice(i, close + 1);
    const name = close === -1 ? "" : text.slice(i + 2, close);
    i += reference.length;
    if (close === -1 || !VARIABLE_NAME.test(name)) {
      result.malformed.push(reference);
      result.text += reference;
      continue;
    }
    if (!result.used.includes(name)) result.used.push(name);
    const value = lookup(name);
    if (value === undefined) {
      if (!result.missing.includes(name)) result.missing.push(name);
      result.text += reference;
    } else {
      result.text += value;
    }
  }
  return result;
}

/** Interpolates every string value (not keys) of `tree`; the input is not modified. */
export function interpolateEnv(tree: unknown, options: InterpolateOptions): InterpolationResult {
  const t = configMessages.t(options.locale ?? "en");
  const { env, envFile } = options;
  const lookup = (name: string) => env[name] ?? envFile?.vars[name];
  const secrets = new Set<string>();
  const missing: ConfigIssue[] = [];
  const invalid: ConfigIssue[] = [];
  const sources: Record<string, string[]> = {};

  const visit = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === "string") {
      const result = interpolateString(node, lookup);
      const key = dottedKey(path);
      const secretKey = isSecretPath(path);
      for (const reference of result.malformed) {
        const value = secretKey ? t("valueSecret") : JSON.stringify(node);
        invalid.push({ key, message: t("badReference", { value, reference }), fix: t("fixReference") });
      }
      for (const variable of result.missing) {
        missing.push({ key, message: t("envMissing", { variable }), fix: missingFix(t, variable, envFile) });
      }
      if (result.used.length > 0) sources[key] = result.used;
      for (const name of result.used) {
        const value = lookup(name);
        if (value && SECRET_VARIABLE_PATTERN.test(name)) secrets.add(value);
      }
      if (secretKey && result.used.length > 0 && result.text) secrets.add(result.text);
      return result.text;
    }
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...path, index]));
    if (typeof node === "object" && node !== null) {
      return Object.fromEntries(
        Object.entries(node).map(([name, child]) => [name, visit(child, [...path, name])]),
      );
    }
    return node;
  };

  const value = visit(tree, []);
  return { value, secrets: [...secrets], missing, invalid, sources };
}

/** The fix says where the variable could go, and whether the env file was there at all. */
function missingFix(t: Translate<ConfigMessageKey>, variable: string, envFile: EnvFile | undefined): string {
  if (!envFile) return t("fixEnvMissingNoEnvFile", { variable });
  return t(envFile.found ? "fixEnvMissingFile" : "fixEnvMissingNoFile", { variable, envFile: envFile.path });
}
