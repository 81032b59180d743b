import type { HistoryMessage } from "./fake-sessions.js";
import { errorBody, okBody, type ResponseBody, type RunInfo } from "./fake-types.js";

export const DEFAULT_CHUNKS = 3;
export const DEFAULT_DELAY_MS = 5;

/** Splits text into `chunks` pieces of nearly equal length (by code point, never empty pieces). */
export function splitText(text: string, chunks: number): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [];
  const count = Math.max(1, Math.min(Math.floor(chunks) || 1, chars.length));
  const pieces: string[] = [];
  for (let i = 0; i < count; i++) {
    const from = Math.floor((i * chars.length) / count);
    const to = Math.floor(((i + 1) * chars.length) / count);
    pieces.push(chars.slice(from, to).join(""));
  }
  return pieces;
}

/** A chat message as the gateway sends it in `chat` events and `chat.history`. */
export function assistantMessage(text: string): HistoryMessage {
  return { role: "assistant", content: [{ type: "text", text }], timestamp: Date.now() };
}

/** The final payload of a finished run (`agent`'s second answer, `agent.wait`). */
export function finalPayload(run: RunInfo): Record<string, unknown> {
  const { runId, status, text, error } = run;
  if (status === "error") return { runId, status, error };
  return {
    runId,
    status,
    summary: status === "ok" ? "completed" : "aborted",
    result: { payloads: text || status === "ok" ? [{ text }] : [] },
  };
}

/**
 * `agent.wait`'s answer for a finished run, in openclaw 2026.9.6's shape (checked against the
 * real gateway): the text in `terminalReply`, no `result.payloads`; a run stopped by
 * `chat.abort` is `error` with `stopReason: "rpc"`.
 */
export function waitPayload(run: RunInfo): Record<string, unknown> {
  const { runId, status, text, error, startedAt, endedAt } = run;
  if (status === "error") return { runId, status, startedAt, endedAt, error };
  if (status === "aborted") return { runId, status: "error", startedAt, endedAt, stopReason: "rpc" };
  return {
    runId,
    status,
    startedAt,
    endedAt,
    stopReason: "stop",
    terminalReply: { disposition: "visible", text },
  };
}

/** `agent`'s second answer: ok/aborted payload, or `AGENT_FAILED`. */
export function finalBody(run: RunInfo): ResponseBody {
  if (run.status === "error") return errorBody("AGENT_FAILED", run.error ?? "agent failed");
  return okBody(finalPayload(run));
}
