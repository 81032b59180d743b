import { type Locale } from "../core/index.js";
import type { ConfigIssue } from "./issues.js";
import { configMessages } from "./messages.js";

/**
 * Secrets live in the environment or the envFile, never in the config file: config files
 * get copied, committed and pasted into chats. These keys must be written as `${VAR}`.
 */
export const SECRET_CONFIG_KEYS = [
  "feishu.appSecret",
  "feishu.encryptKey",
  "feishu.verificationToken",
  "nodes[].token",
  "state.redis.url",
] as const;

const FEISHU_SECRETS: Record<string, string> = {
  appSecret: "FEISHU_APP_SECRET",
  encryptKey: "FEISHU_ENCRYPT_KEY",
  verificationToken: "FEISHU_VERIFICATION_TOKEN",
};

/** A value that is exactly one reference, the only form a secret key accepts. */
const SINGLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/**
 * Variable names whose values are treated as secrets wherever they are used (a token
 * inside a URL, say), in addition to everything interpolated into a secret key.
 */
export const SECRET_VARIABLE_PATTERN = /SECRET|TOKEN|PASSW|KEY|CREDENTIAL|AUTH/i;

/** Whether `path` (e.g. `["nodes", 2, "token"]`) is one of {@link SECRET_CONFIG_KEYS}. */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  if (path.length === 3 && path[0] === "state" && path[1] === "redis" && path[2] === "url") return true;
  if (path.length === 2 && path[0] === "feishu")
    return typeof path[1] === "string" && path[1] in FEISHU_SECRETS;
  return path.length === 3 && path[0] === "nodes" && typeof path[1] === "number" && path[2] === "token";
}

/** `ai-pc` → `AI_PC`: a node name as the stem of an environment variable name. */
export function variableStem(name: string): string {
  const stem = name
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return /^[0-9]/.test(stem) ? `NODE_${stem}` : stem;
}

/** The variable name a fix suggests for the secret at `path`. */
export function suggestVariableName(path: readonly PropertyKey[], node?: unknown): string {
  if (path[0] === "feishu") return FEISHU_SECRETS[String(path[1])] ?? "FEISHU_SECRET";
  if (path[0] === "state") return "CLAWBRIDGE_REDIS_URL";
  const name = typeof node === "object" && node !== null ? (node as Record<string, unknown>).name : undefined;
  const stem = typeof name === "string" ? variableStem(name) : "";
  return stem ? `${stem}_TOKEN` : `NODE_${String(path[1])}_TOKEN`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks the file as written (before `${VAR}` interpolation) for secrets typed in
 * literally. The value itself is never quoted back: the error would leak it.
 */
export function findLiteralSecrets(raw: unknown, locale: Locale = "en"): ConfigIssue[] {
  const t = configMessages.t(locale);
  const issues: ConfigIssue[] = [];
  const check = (value: unknown, path: PropertyKey[], key: string, node?: unknown) => {
    // Wrong types and empty strings are the schema's to report; neither leaks anything.
    if (typeof value !== "string" || value === "" || SINGLE_REFERENCE.test(value)) return;
    const variable = suggestVariableName(path, node);
    issues.push({ key, message: t("literalSecret"), fix: t("fixLiteralSecret", { variable }) });
  };
  if (!isRecord(raw)) return issues;
  if (isRecord(raw.feishu)) {
    for (const name of Object.keys(FEISHU_SECRETS)) {
      check(raw.feishu[name], ["feishu", name], `feishu.${name}`);
    }
  }
  if (isRecord(raw.state) && isRecord(raw.state.redis)) {
    check(raw.state.redis.url, ["state", "redis", "url"], "state.redis.url");
  }
  if (Array.isArray(raw.nodes)) {
    raw.nodes.forEach((node: unknown, index) => {
      if (isRecord(node)) check(node.token, ["nodes", index, "token"], `nodes[${index}].token`, node);
    });
  }
  return issues;
}
