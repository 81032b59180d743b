import { describe, expect, it } from "vitest";
import { sightRun } from "../../../src/gateway/run-lookup.js";

// Shapes as openclaw 2026.9.6 answered `chat.history` (trimmed to the fields read).
const user = { role: "user", content: [{ type: "text", text: "go" }], idempotencyKey: "r1:user" };
const answerOf = (runId: string, text: string) => ({
  role: "assistant",
  content: [{ type: "text", text }],
  stopReason: "stop",
  __openclaw: { runId, seq: 2 },
});

describe("sightRun: a run as the session's history shows it", () => {
  it("in flight: running, with its text so far", () => {
    const answer = {
      messages: [user],
      sessionInfo: { hasActiveRun: true, status: "running" },
      inFlightRun: { runId: "r1", text: "part 0 part 1", startedAt: 1 },
    };
    expect(sightRun(answer, "r1")).toEqual({ kind: "running", text: "part 0 part 1" });
  });

  it("listed among the active runs: running", () => {
    const answer = { messages: [user], sessionInfo: { hasActiveRun: true, activeRunIds: ["r1"] } };
    expect(sightRun(answer, "r1")).toEqual({ kind: "running" });
  });

  it("answered in the transcript: finished, with the answer's text", () => {
    const answer = {
      messages: [user, answerOf("r1", "all done")],
      sessionInfo: { hasActiveRun: false, activeRunIds: [] },
    };
    expect(sightRun(answer, "r1")).toEqual({ kind: "finished", text: "all done" });
  });

  it("the gateway restarted and resumed the session under a new run id: gone", () => {
    const answer = {
      messages: [user],
      sessionInfo: { hasActiveRun: true, activeRunIds: ["43361cc4-b891"], abortedLastRun: true },
    };
    expect(sightRun(answer, "r1")).toEqual({ kind: "gone" });
  });

  it("a session the gateway never saw: gone", () => {
    expect(sightRun({ messages: [], sessionInfo: { hasActiveRun: false, activeRunIds: [] } }, "r1")).toEqual({
      kind: "gone",
    });
  });

  it("another run in flight and no list of active runs, or no session facts at all: unknown (waited on)", () => {
    const other = { messages: [user], sessionInfo: { hasActiveRun: true }, inFlightRun: { runId: "r2" } };
    expect(sightRun(other, "r1")).toEqual({ kind: "unknown" });
    expect(sightRun({ messages: [answerOf("r2", "not mine")] }, "r1")).toEqual({ kind: "unknown" });
    expect(sightRun(undefined, "r1")).toEqual({ kind: "unknown" });
  });
});
