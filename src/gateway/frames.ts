import { z } from "zod";

/**
 * OpenClaw gateway protocol v4 frames (OPENCLAW-PROTOCOL.md, verified against openclaw
 * 2026.9.6): JSON text frames over one WebSocket. Parsed once here at the edge.
 */
export const PROTOCOL_VERSION = 4;

export const gatewayErrorSchema = z.looseObject({
  code: z.string(),
  message: z.string().default(""),
  details: z.looseObject({ code: z.string().optional() }).optional(),
  retryable: z.boolean().optional(),
  retryAfterMs: z.number().optional(),
});
export type GatewayErrorShape = z.infer<typeof gatewayErrorSchema>;

export const requestFrameSchema = z.looseObject({
  type: z.literal("req"),
  id: z.string().min(1),
  method: z.string().min(1),
  params: z.unknown().optional(),
});

export const responseFrameSchema = z.union([
  z.looseObject({
    type: z.literal("res"),
    id: z.string(),
    ok: z.literal(true),
    payload: z.unknown().optional(),
  }),
  z.looseObject({ type: z.literal("res"), id: z.string(), ok: z.literal(false), error: gatewayErrorSchema }),
]);

export const eventFrameSchema = z.looseObject({
  type: z.literal("event"),
  event: z.string().min(1),
  payload: z.unknown().optional(),
  seq: z.number().optional(),
});

export const frameSchema = z.union([requestFrameSchema, responseFrameSchema, eventFrameSchema]);

export type RequestFrame = z.infer<typeof requestFrameSchema>;
export type ResponseFrame = z.infer<typeof responseFrameSchema>;
export type EventFrame = z.infer<typeof eventFrameSchema>;
export type Frame = z.infer<typeof frameSchema>;

export const challengeSchema = z.looseObject({
  nonce: z.string().min(1),
  ts: z.number().int().nonnegative(),
});

/** The client ids and modes the gateway accepts (a closed list upstream). */
export const CLIENT_IDS = [
  "webchat-ui",
  "openclaw-control-ui",
  "openclaw-browser-copilot",
  "openclaw-tui",
  "webchat",
  "cli",
  "gateway-client",
  "openclaw-macos",
  "openclaw-linux",
  "openclaw-ios",
  "openclaw-watchos",
  "openclaw-android",
  "node-host",
  "openclaw-worker",
  "test",
  "fingerprint",
  "openclaw-probe",
] as const;
export const CLIENT_MODES = ["webchat", "cli", "ui", "backend", "node", "worker", "probe", "test"] as const;

const nonEmpty = z.string().min(1);

/** `connect` params: a closed schema upstream, so unknown keys are refused here too. */
export const connectParamsSchema = z.strictObject({
  minProtocol: z.number().int().min(1),
  maxProtocol: z.number().int().min(1),
  client: z.strictObject({
    id: z.enum(CLIENT_IDS),
    displayName: nonEmpty.optional(),
    version: nonEmpty,
    buildId: z.string().min(1).max(96).optional(),
    platform: nonEmpty,
    deviceFamily: nonEmpty.optional(),
    modelIdentifier: nonEmpty.optional(),
    timeZone: z.string().min(1).max(64).optional(),
    mode: z.enum(CLIENT_MODES),
    instanceId: nonEmpty.optional(),
  }),
  caps: z.array(nonEmpty).optional(),
  commands: z.array(nonEmpty).optional(),
  permissions: z.record(nonEmpty, z.boolean()).optional(),
  pathEnv: z.string().optional(),
  role: nonEmpty.optional(),
  scopes: z.array(nonEmpty).optional(),
  device: z
    .strictObject({
      id: nonEmpty,
      publicKey: nonEmpty,
      signature: nonEmpty,
      signedAt: z.number().int().min(0),
      nonce: nonEmpty,
    })
    .optional(),
  auth: z
    .strictObject({
      token: z.string().optional(),
      bootstrapToken: z.string().optional(),
      deviceToken: z.string().optional(),
      password: z.string().optional(),
    })
    .optional(),
  locale: z.string().optional(),
  userAgent: z.string().optional(),
});
export type ConnectParams = z.infer<typeof connectParamsSchema>;

export const helloOkSchema = z.looseObject({
  type: z.literal("hello-ok"),
  protocol: z.number().int(),
  server: z.looseObject({ version: z.string(), connId: z.string() }),
  features: z.looseObject({ methods: z.array(z.string()), events: z.array(z.string()) }),
  auth: z
    .looseObject({
      deviceToken: z.string().optional(),
      role: z.string().optional(),
      scopes: z.array(z.string()).optional(),
    })
    .optional(),
  policy: z
    .looseObject({ maxPayload: z.number().optional(), tickIntervalMs: z.number().optional() })
    .optional(),
});
export type HelloOk = z.infer<typeof helloOkSchema>;

/** The `agent` method's params (closed upstream; these are the keys clawbridge uses). */
export const agentParamsSchema = z.strictObject({
  message: nonEmpty,
  agentId: nonEmpty.optional(),
  sessionKey: z.string().optional(),
  idempotencyKey: nonEmpty,
  timeout: z.number().int().min(0).optional(),
  extraSystemPrompt: z.string().optional(),
  deliver: z.boolean().optional(),
  label: z.string().optional(),
});
export type AgentParams = z.infer<typeof agentParamsSchema>;

export const agentAcceptedSchema = z.looseObject({ status: z.literal("accepted"), runId: z.string() });
export const agentResultSchema = z.looseObject({
  status: z.string(),
  runId: z.string().optional(),
  result: z
    .looseObject({ payloads: z.array(z.looseObject({ text: z.string().optional() })).optional() })
    .optional(),
  summary: z.string().optional(),
  error: z.unknown().optional(),
});

export const chatEventSchema = z.looseObject({
  sessionKey: z.string(),
  runId: z.string().optional(),
  state: z.string(),
  message: z.unknown().optional(),
  seq: z.number().optional(),
});
export type ChatEvent = z.infer<typeof chatEventSchema>;

export const agentEventSchema = z.looseObject({
  runId: z.string(),
  sessionKey: z.string().optional(),
  stream: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  seq: z.number().optional(),
});
export type AgentEvent = z.infer<typeof agentEventSchema>;

/** Text of a chat message `{role, content: [{type:"text", text}]}` (or a plain string). */
export function messageText(message: unknown): string {
  if (typeof message === "string") return message;
  if (typeof message !== "object" || message === null) return "";
  const content = (message as { content?: unknown }).content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) =>
      typeof part === "object" && part && (part as { type?: unknown }).type === "text"
        ? String((part as { text?: unknown }).text ?? "")
        : "",
    )
    .join("");
}
