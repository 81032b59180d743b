import { messageText } from "./frames.js";

/** What a session's `chat.history` says of one run. */
export type RunSighting =
  | { kind: "running"; text?: string }
  | { kind: "finished"; text: string }
  | { kind: "gone" }
  | { kind: "unknown" };

interface HistoryAnswer {
  messages?: unknown[];
  sessionInfo?: { hasActiveRun?: unknown; activeRunIds?: unknown };
  inFlightRun?: { runId?: unknown; text?: unknown };
}

/** The run id of a transcript message: openclaw 2026.9.6 keeps it in `__openclaw.runId`. */
export function messageRunId(message: unknown): string | undefined {
  const value = (message ?? {}) as { runId?: unknown; __openclaw?: { runId?: unknown } };
  const runId = value.__openclaw?.runId ?? value.runId;
  return typeof runId === "string" ? runId : undefined;
}

/**
 * Reads a `chat.history` answer for one run. openclaw answers `agent.wait` with `timeout`
 * both for a run still going and for one it no longer knows (it restarted, and resumes the
 * session under a new run id), so the session is the witness: the run in flight
 * (`inFlightRun`) or listed active is running; an assistant message of the run means it
 * finished; a session reporting its active runs (or none) without this one has lost it.
 * Anything else — an older gateway, a trimmed answer — is `unknown`, and the caller waits on.
 */
export function sightRun(answer: unknown, runId: string): RunSighting {
  const history = (answer ?? {}) as HistoryAnswer;
  const inFlight = history.inFlightRun;
  if (inFlight?.runId === runId) {
    return typeof inFlight.text === "string" ? { kind: "running", text: inFlight.text } : { kind: "running" };
  }
  const info = history.sessionInfo;
  const active = Array.isArray(info?.activeRunIds) ? (info.activeRunIds as unknown[]) : undefined;
  if (active?.includes(runId)) return { kind: "running" };
  const messages = Array.isArray(history.messages) ? history.messages : [];
  const answered = [...messages]
    .reverse()
    .find((m) => (m as { role?: unknown }).role === "assistant" && messageRunId(m) === runId);
  if (answered) return { kind: "finished", text: messageText(answered) };
  if (active !== undefined || info?.hasActiveRun === false) return { kind: "gone" };
  return { kind: "unknown" };
}
