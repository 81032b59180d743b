import type { z } from "zod";
import { NODE_NAME_PATTERN, type Locale, type Translate } from "../core/index.js";
import { closestKey } from "../core/index.js";
import { configMessages, type ConfigMessageKey } from "./messages.js";
import type { ConfigIssueParams } from "./refinements.js";
import { AGENT_ID_PATTERN, TAG_PATTERN } from "./schema.js";
import { knownKeysAt, numberBoundsAt } from "./schema-walk.js";
import { isSecretPath } from "./secrets.js";

/**
 * One problem in the config, said so a person can fix it: the dotted key
 * (`nodes[1].name`), what is wrong (quoting the bad value), and what to write instead.
 */
export interface ConfigIssue {
  key: string;
  message: string;
  fix: string;
}

/** The text form used everywhere: `nodes[1].name: "ai pc" is not a valid node name — use …`. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.key}: ${issue.message} — ${issue.fix}`;
}

/** `["nodes", 1, "name"]` → `nodes[1].name`; odd keys are quoted (`["my key"]`). */
export function dottedKey(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment))
      out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

const MAX_QUOTED = 80;

/** A value as quoted in a message: strings in quotes (shortened), lists and objects by kind. */
export function describeValue(value: unknown, t: Translate<ConfigMessageKey>): string {
  if (typeof value === "string") {
    const quoted = JSON.stringify(value);
    return quoted.length > MAX_QUOTED ? `${quoted.slice(0, MAX_QUOTED - 2)}…"` : quoted;
  }
  if (Array.isArray(value)) return t("valueList");
  if (typeof value === "object" && value !== null) return t("valueObject");
  return String(value);
}

const TYPE_WORDS: Record<string, [ConfigMessageKey, ConfigMessageKey]> = {
  number: ["typeNumber", "fixTypeNumber"],
  int: ["typeInt", "fixTypeInt"],
  string: ["typeString", "fixTypeString"],
  boolean: ["typeBoolean", "fixTypeBoolean"],
  array: ["typeArray", "fixTypeArray"],
  object: ["typeObject", "fixTypeObject"],
};

/** Regexes of the schema, by their source, and how to explain a mismatch. */
const PATTERN_TEXTS: Record<string, [ConfigMessageKey, ConfigMessageKey]> = {
  [String(NODE_NAME_PATTERN)]: ["badNodeName", "fixNodeName"],
  [String(AGENT_ID_PATTERN)]: ["badAgentId", "fixAgentId"],
  [String(TAG_PATTERN)]: ["badTag", "fixTag"],
};

const PREFIX_FIXES: Record<string, ConfigMessageKey> = {
  oc_: "fixChatId",
  ou_: "fixOpenId",
  on_: "fixUnionId",
};

type ZodIssue = z.core.$ZodIssue;

/**
 * Translates zod's issues (validated with `reportInput: true`, so each carries the bad
 * value) into config issues, the first one per key. A secret key's value is never quoted.
 */
export function issuesFromZod(issues: readonly ZodIssue[], locale: Locale = "en"): ConfigIssue[] {
  const t = configMessages.t(locale);
  // One issue per key: "expected a whole number, got 0.5" says enough without "below the minimum 1".
  const byKey = new Map<string, ConfigIssue>();
  for (const issue of issues.flatMap((each) => translateIssue(each, t))) {
    if (!byKey.has(issue.key)) byKey.set(issue.key, issue);
  }
  return [...byKey.values()];
}

function translateIssue(issue: ZodIssue, t: Translate<ConfigMessageKey>): ConfigIssue[] {
  const key = dottedKey(issue.path);
  const value = isSecretPath(issue.path) ? t("valueSecret") : describeValue(issue.input, t);
  const say = (
    msg: ConfigMessageKey,
    fix: ConfigMessageKey,
    params: Record<string, string | number> = {},
  ) => [{ key, message: t(msg, { value, ...params }), fix: t(fix, { value, ...params }) }];
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((name) => unknownKey(issue.path, name, t));
    case "invalid_type": {
      // JSON5 has no `undefined`: an undefined input is a key that is not there.
      if (issue.input === undefined) return say("required", "fixRequired");
      const [word, fix] = TYPE_WORDS[issue.expected] ?? [undefined, "fixTypeOther"];
      return say("expectedGot", fix, { expected: word ? t(word) : issue.expected, got: value });
    }
    case "too_small":
    case "too_big":
      return sizeIssue(issue, say);
    case "invalid_format": {
      if (issue.format === "regex" && issue.pattern && PATTERN_TEXTS[issue.pattern]) {
        const [msg, fix] = PATTERN_TEXTS[issue.pattern]!;
        return say(msg, fix);
      }
      if (issue.format === "starts_with" && "prefix" in issue) {
        const prefix = String(issue.prefix);
        return say("badPrefix", PREFIX_FIXES[prefix] ?? "fixPrefix", { prefix });
      }
      return say("invalidOther", "fixTypeOther", { detail: issue.message });
    }
    case "invalid_value":
      return say("notOneOf", "fixOneOf", {
        options: issue.values.map((option) => JSON.stringify(option)).join(", "),
      });
    case "custom": {
      const params = issue.params as Partial<ConfigIssueParams> | undefined;
      if (params?.msg && params.fix) {
        return [{ key, message: t(params.msg, params.values), fix: t(params.fix, params.values) }];
      }
      return say("invalidOther", "fixTypeOther", { detail: issue.message });
    }
    default:
      return say("invalidOther", "fixTypeOther", { detail: issue.message });
  }
}

function unknownKey(path: readonly PropertyKey[], name: string, t: Translate<ConfigMessageKey>): ConfigIssue {
  const known = knownKeysAt(path);
  const suggestion = closestKey(name, known);
  return {
    key: dottedKey([...path, name]),
    message: t("unknownKey"),
    fix: suggestion ? t("fixDidYouMean", { suggestion }) : t("fixRemoveKey", { known: known.join(", ") }),
  };
}

type Say = (
  msg: ConfigMessageKey,
  fix: ConfigMessageKey,
  params?: Record<string, string | number>,
) => ConfigIssue[];

function sizeIssue(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, say: Say): ConfigIssue[] {
  if (issue.origin === "string") return say("emptyString", "fixEmptyString");
  if (issue.origin !== "number" && issue.origin !== "int") {
    return say("invalidOther", "fixTypeOther", { detail: issue.message });
  }
  // The issue knows one bound; the schema knows both, and "from 50 to 600000" is the better fix.
  const declared = numberBoundsAt(issue.path);
  const min = declared.min ?? (issue.code === "too_small" ? Number(issue.minimum) : undefined);
  const max = declared.max ?? (issue.code === "too_big" ? Number(issue.maximum) : undefined);
  const fix: ConfigMessageKey =
    min !== undefined && max !== undefined ? "fixRange" : min !== undefined ? "fixAtLeast" : "fixAtMost";
  const bounds = { min: min ?? "", max: max ?? "" };
  return issue.code === "too_small"
    ? say("tooSmall", fix, { ...bounds, min: Number(issue.minimum) })
    : say("tooBig", fix, { ...bounds, max: Number(issue.maximum) });
}
