import { z } from "zod";
import type { RedisStore } from "../cluster/index.js";
import { nodeKey } from "../core/index.js";
import type { GatewayHealth } from "../gateway/index.js";
import { wireErrorSchema } from "./wire-errors.js";

/**
 * What goes over Redis between a node's `GatewayHost` (on the replica owning the node) and
 * the `RemoteGatewayClient`s of the other replicas:
 *
 * - `gateway:<node>:health`: the host's `health()` as JSON, with its replica id; expires
 *   `HEALTH_TTL_MS` after the last write, so a dead host's health disappears by itself.
 * - `gateway:<node>:requests`: a stream of requests (one field `r`), read by the host through
 *   the consumer group `hosts`; acknowledged (and deleted) with the final answer.
 * - `gateway:reply:<requestId>`: a stream per request (one field `e` per entry): a run's
 *   events, then one final entry (a result, a value or an error).
 */
export const HOSTS_GROUP = "hosts";
export const HEALTH_TTL_MS = 3_000;
/** Reply streams outlive their last write by this long (a reader that was away reads them still). */
export const REPLY_TTL_MS = 60 * 60_000;
export const REPLY_MAXLEN = 10_000;
/** A safety cap on the request stream; entries are deleted once answered. */
export const REQUESTS_MAXLEN = 10_000;

export interface GatewayKeys {
  health: string;
  requests: string;
}

export function gatewayKeys(store: RedisStore, node: string): GatewayKeys {
  const name = nodeKey(node);
  return { health: store.key("gateway", name, "health"), requests: store.key("gateway", name, "requests") };
}

export function replyKey(store: RedisStore, requestId: string): string {
  return store.key("gateway", "reply", requestId);
}

const runBody = z.object({
  prompt: z.string(),
  sessionKey: z.string(),
  idempotencyKey: z.string().min(1),
  agentId: z.string().optional(),
  timeoutMs: z.number().optional(),
  extraSystemPrompt: z.string().optional(),
});
const attachBody = z.object({
  runId: z.string().min(1),
  sessionKey: z.string(),
  timeoutMs: z.number().optional(),
});
const abortBody = z.object({ runId: z.string().min(1), sessionKey: z.string() });
const callBody = z.object({
  method: z.string().min(1),
  params: z.unknown(),
  timeoutMs: z.number().optional(),
});

export const hostRequestSchema = z.discriminatedUnion("op", [
  z.object({ rid: z.string().min(1), op: z.literal("run"), body: runBody }),
  z.object({ rid: z.string().min(1), op: z.literal("attach"), body: attachBody }),
  z.object({ rid: z.string().min(1), op: z.literal("abort"), body: abortBody }),
  z.object({ rid: z.string().min(1), op: z.literal("request"), body: callBody }),
]);
export type HostRequest = z.infer<typeof hostRequestSchema>;

const runResultSchema = z.object({
  runId: z.string(),
  status: z.enum(["ok", "error", "aborted", "timeout"]),
  text: z.string(),
});

/**
 * One entry of a reply stream. A delta says where in the run's text it starts (`at`, in
 * UTF-16 units like JS strings), and a lifecycle phase at which length of the text it came:
 * positions in the run's own text are the same whichever replica hosts the gateway, so the
 * reader recognises what a new host reports again after a failover (see `RemoteRun`).
 */
export const replyEntrySchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("accepted"), runId: z.string() }),
  z.object({ kind: z.literal("lifecycle"), phase: z.string(), at: z.number().int().min(0) }),
  z.object({ kind: z.literal("delta"), at: z.number().int().min(0), delta: z.string() }),
  z.object({ kind: z.literal("result"), result: runResultSchema }),
  z.object({ kind: z.literal("value"), value: z.unknown() }),
  z.object({ kind: z.literal("error"), error: wireErrorSchema }),
]);
export type ReplyEntry = z.infer<typeof replyEntrySchema>;

/** The health key's value. */
export interface HealthRecord {
  health: GatewayHealth;
  /** The replica hosting the gateway (its consumer id). */
  host: string;
  at: number;
}

const healthRecordSchema = z.object({
  health: z.looseObject({
    node: z.string(),
    url: z.string(),
    state: z.enum([
      "idle",
      "connecting",
      "connected",
      "backoff",
      "pairing",
      "auth-failed",
      "protocol-mismatch",
      "stopped",
    ]),
    runningRuns: z.number(),
    failures: z.number(),
  }),
  host: z.string(),
  at: z.number(),
});

export function parseHealthRecord(json: string): HealthRecord | undefined {
  try {
    const parsed = healthRecordSchema.safeParse(JSON.parse(json));
    // Checked for what readers decide on; the rest is `GatewayHealth` as the host's client made it.
    return parsed.success ? (parsed.data as unknown as HealthRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Stream entry fields `[name, value, …]` → the value of `name`. */
function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export function parseHostRequest(fields: readonly string[]): HostRequest | undefined {
  return parseJson(hostRequestSchema, fieldOf(fields, "r"));
}

export function parseReplyEntry(fields: readonly string[]): ReplyEntry | undefined {
  return parseJson(replyEntrySchema, fieldOf(fields, "e"));
}

function parseJson<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
