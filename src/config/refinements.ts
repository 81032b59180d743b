import { closestKey, DEFAULT_SELF_NAME, NODE_NAME_PATTERN, nodeKey, type Params } from "../core/index.js";
import { configMessages, type ConfigMessageKey } from "./messages.js";

/**
 * The config rules that one key's type cannot express. Each issue carries catalog keys in
 * `params`, so issues.ts can say it in the reader's language; `message` is the English text
 * for anyone calling `configSchema.parse` directly.
 */

/** What our custom issues carry in `params`. */
export interface ConfigIssueParams {
  msg: ConfigMessageKey;
  fix: ConfigMessageKey;
  values: Params;
}

/** The part of zod's refinement context we use (keeps these functions easy to call in tests). */
export interface IssueSink {
  addIssue(issue: {
    code: "custom";
    path?: PropertyKey[];
    message: string;
    params: Record<string, unknown>;
    input?: unknown;
  }): void;
}

const english = configMessages.t("en");

function report(
  ctx: IssueSink,
  path: PropertyKey[],
  msg: ConfigMessageKey,
  fix: ConfigMessageKey,
  values: Params,
  input?: unknown,
): void {
  const params: ConfigIssueParams = { msg, fix, values };
  ctx.addIssue({ code: "custom", path, message: english(msg, values), params: { ...params }, input });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whole numbers only; reported as "expected a whole number, got 1.5". */
export function checkInteger(value: number, ctx: IssueSink): void {
  if (!Number.isInteger(value)) report(ctx, [], "notInteger", "fixTypeInt", { value }, value);
}

/** `nodes[].url`: a parseable ws:// or wss:// URL (the OpenClaw gateway speaks WebSocket only). */
export function checkGatewayUrl(value: string, ctx: IssueSink): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    report(ctx, [], "notAUrl", "fixGatewayUrl", { value: JSON.stringify(value) }, value);
    return;
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    report(ctx, [], "badGatewayUrl", "fixGatewayUrl", { value: JSON.stringify(value) }, value);
  }
}

/** `state.redis.url`: redis:// or rediss://. Never quoted back: it carries the password. */
export function checkRedisUrl(value: string, ctx: IssueSink): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "redis:" && protocol !== "rediss:") report(ctx, [], "badRedisUrl", "fixRedisUrl", {});
}

/** `feishu.domain`: the two SDK names, or a base URL for the emulator and private deployments. */
export function checkFeishuDomain(value: string, ctx: IssueSink): void {
  if (value === "feishu" || value === "lark") return;
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return;
  } catch {
    // falls through to the report below
  }
  report(ctx, [], "badDomain", "fixDomain", { value: JSON.stringify(value) }, value);
}

/**
 * Rules across keys. Runs even when other keys failed (`when: () => true` in schema.ts),
 * so it reads the value defensively: any part may still have the wrong type.
 */
export function checkConfig(value: unknown, ctx: IssueSink): void {
  if (!isRecord(value)) return;
  checkNodes(value, ctx);
  checkAgents(value, ctx);
  checkPorts(value, ctx);
  checkWebhook(value.feishu, ctx);
  checkStore(value.state, ctx);
}

function checkStore(state: unknown, ctx: IssueSink): void {
  if (!isRecord(state) || state.store !== "redis" || isRecord(state.redis)) return;
  report(ctx, ["state", "store"], "redisMissing", "fixRedisMissing", {});
}

function checkNodes(config: Record<string, unknown>, ctx: IssueSink): void {
  if (!Array.isArray(config.nodes)) return;
  const mailbox = isRecord(config.mailbox) ? config.mailbox : {};
  const self = typeof mailbox.self === "string" ? mailbox.self : DEFAULT_SELF_NAME;
  const seen = new Map<string, { index: number; name: string }>();
  config.nodes.forEach((node: unknown, index) => {
    if (!isRecord(node)) return;
    if (node.token !== undefined && node.url === undefined) {
      report(ctx, ["nodes", index, "token"], "tokenWithoutUrl", "fixTokenWithoutUrl", {});
    }
    const name = node.name;
    // A malformed name already has its own issue; comparing it too would only add noise.
    if (typeof name !== "string" || !NODE_NAME_PATTERN.test(name)) return;
    const path = ["nodes", index, "name"];
    if (nodeKey(name) === nodeKey(self)) {
      report(ctx, path, "reservedNode", "fixReservedNode", { value: JSON.stringify(name) }, name);
      return;
    }
    const earlier = seen.get(nodeKey(name));
    if (earlier) {
      report(
        ctx,
        path,
        "duplicateNode",
        "fixDuplicateNode",
        {
          value: JSON.stringify(name),
          otherKey: `nodes[${earlier.index}].name`,
          other: JSON.stringify(earlier.name),
        },
        name,
      );
      return;
    }
    seen.set(nodeKey(name), { index, name });
  });
}

/** `access.agents`: each entry is "*" or a configured node's name (ignoring case, as names do). */
function checkAgents(config: Record<string, unknown>, ctx: IssueSink): void {
  const agents = isRecord(config.access) ? config.access.agents : undefined;
  if (!Array.isArray(agents)) return;
  const names = Array.isArray(config.nodes)
    ? config.nodes.flatMap((node: unknown) =>
        isRecord(node) && typeof node.name === "string" ? [node.name] : [],
      )
    : [];
  const known = new Set(names.map(nodeKey));
  agents.forEach((entry: unknown, index) => {
    // A non-string already has its own issue from the schema.
    if (typeof entry !== "string" || entry === "*" || known.has(nodeKey(entry))) return;
    const value = JSON.stringify(entry);
    const near = closestKey(entry, names);
    const [fix, values]: [ConfigMessageKey, Params] = near
      ? ["fixAgentNear", { value, suggestion: near }]
      : names.length > 0
        ? ["fixAgentNode", { value, nodes: names.join(", ") }]
        : ["fixAgentNoNodes", { value }];
    report(ctx, ["access", "agents", index], "unknownAgent", fix, values, entry);
  });
}

function checkPorts(config: Record<string, unknown>, ctx: IssueSink): void {
  const http = isRecord(config.http) ? config.http.port : undefined;
  const ops = isRecord(config.ops) ? config.ops.port : undefined;
  // Port 0 means "any free port": two zeros never collide.
  if (typeof http === "number" && http === ops && http !== 0) {
    report(ctx, ["ops", "port"], "samePort", "fixSamePort", { value: http }, ops);
  }
}

function checkWebhook(feishu: unknown, ctx: IssueSink): void {
  if (!isRecord(feishu) || feishu.mode !== "webhook") return;
  // Without either, anyone who finds the URL could post forged events.
  if (feishu.encryptKey === undefined && feishu.verificationToken === undefined) {
    report(ctx, ["feishu", "mode"], "webhookNeedsSecret", "fixWebhookNeedsSecret", {}, feishu.mode);
  }
}
