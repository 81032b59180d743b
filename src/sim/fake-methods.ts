import { z } from "zod";
import { agentParamsSchema } from "../gateway/index.js";
import type { Reply, RunEngine } from "./fake-runs.js";
import { FAKE_SERVER_VERSION, errorBody, okBody } from "./fake-types.js";

export interface MethodContext {
  connId: string;
  /** Answers the request (may be called twice: `agent` answers accepted, then final). */
  reply: Reply;
}

export type MethodHandler = (params: unknown, ctx: MethodContext) => void | Promise<void>;

const nonEmpty = z.string().min(1);

// Upstream params objects are closed; the fake refuses unknown keys the same way.
const agentWaitParams = z.strictObject({
  runId: nonEmpty,
  timeoutMs: z.number().int().min(0).optional(),
});
const chatSendParams = z.strictObject({
  sessionKey: nonEmpty,
  message: z.string(),
  idempotencyKey: nonEmpty,
  thinking: z.string().optional(),
  deliver: z.boolean().optional(),
  timeoutMs: z.number().int().min(0).optional(),
  attachments: z.array(z.unknown()).optional(),
});
const chatHistoryParams = z.strictObject({
  sessionKey: nonEmpty,
  limit: z.number().int().min(1).max(1000).optional(),
});
const chatAbortParams = z.strictObject({ sessionKey: nonEmpty, runId: nonEmpty.optional() });

const DEFAULT_WAIT_MS = 30_000;
const DEFAULT_HISTORY_LIMIT = 50;

function parse<T>(schema: z.ZodType<T>, method: string, params: unknown, reply: Reply): T | undefined {
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  reply(errorBody("INVALID_REQUEST", `invalid ${method} params: ${z.prettifyError(parsed.error)}`));
  return undefined;
}

/** The methods the fake implements (advertised in `hello-ok.features.methods`). */
export function createMethods(engine: RunEngine): Record<string, MethodHandler> {
  return {
    health: (_params, { reply }) => reply(okBody({ ok: true, ts: Date.now() })),

    status: (_params, { reply }) =>
      reply(
        okBody({ version: FAKE_SERVER_VERSION, sessions: engine.sessions.size, runs: engine.runningCount() }),
      ),

    "sessions.list": (_params, { reply }) => reply(okBody({ sessions: engine.sessions.list() })),

    agent: (params, { connId, reply }) => {
      const p = parse(agentParamsSchema, "agent", params, reply);
      if (!p) return;
      const duplicate = engine.duplicate(p.idempotencyKey, "agent");
      if (duplicate) return reply(duplicate);
      engine.start({
        runId: p.idempotencyKey,
        sessionKey: p.sessionKey,
        agentId: p.agentId,
        message: p.message,
        origin: "agent",
        connId,
        reply,
        accept: (run) =>
          reply(
            okBody({
              runId: run.runId,
              sessionKey: run.sessionKey,
              agentId: run.agentId,
              status: "accepted",
              acceptedAt: run.startedAt,
            }),
          ),
      });
    },

    "agent.wait": async (params, { reply }) => {
      const p = parse(agentWaitParams, "agent.wait", params, reply);
      if (p) reply(await engine.wait(p.runId, p.timeoutMs ?? DEFAULT_WAIT_MS));
    },

    "chat.send": (params, { connId, reply }) => {
      const p = parse(chatSendParams, "chat.send", params, reply);
      if (!p) return;
      const duplicate = engine.duplicate(p.idempotencyKey, "chat.send");
      if (duplicate) return reply(duplicate);
      engine.start({
        runId: p.idempotencyKey,
        sessionKey: p.sessionKey,
        message: p.message,
        origin: "chat.send",
        connId,
        accept: (run) => reply(okBody({ runId: run.runId, status: "started" })),
      });
    },

    "chat.history": (params, { reply }) => {
      const p = parse(chatHistoryParams, "chat.history", params, reply);
      if (!p) return;
      const messages = engine.sessions.history(p.sessionKey, p.limit ?? DEFAULT_HISTORY_LIMIT);
      // As openclaw 2026.9.6: whether a run is active, and the one in flight with its text so
      // far; `activeRunIds` only when idle (the real gateway leaves it out while one runs).
      const running = engine.runningIn(p.sessionKey);
      reply(
        okBody({
          sessionKey: p.sessionKey,
          messages,
          sessionInfo: running
            ? { hasActiveRun: true, status: "running" }
            : { hasActiveRun: false, activeRunIds: [] },
          ...(running
            ? { inFlightRun: { runId: running.runId, text: running.text, startedAt: running.startedAt } }
            : {}),
        }),
      );
    },

    "chat.abort": (params, { reply }) => {
      const p = parse(chatAbortParams, "chat.abort", params, reply);
      if (!p) return;
      const runIds = engine.abort(p.sessionKey, p.runId);
      reply(okBody({ aborted: runIds.length > 0, runIds }));
    },
  };
}
