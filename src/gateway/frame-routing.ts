import type { Logger } from "../core/index.js";
import type { AgentRuns } from "./agent-runs.js";
import {
  agentEventSchema,
  challengeSchema,
  chatEventSchema,
  eventFrameSchema,
  messageText,
  responseFrameSchema,
  type EventFrame,
  type ResponseFrame,
} from "./frames.js";
import type { SessionObserver } from "./session-observer.js";

/** Where the frames of one client go. */
export interface FrameRoutes {
  log: Logger;
  /** An answer to one of our requests. */
  response(frame: ResponseFrame): void;
  /** The gateway wants us to prove who we are, on the socket of `attempt`. */
  challenge(nonce: string, ts: number, attempt: number): void;
  tick(): void;
  runs: AgentRuns;
  observer: SessionObserver;
}

/**
 * One text frame from the gateway, parsed once and handed on: answers to the pending
 * requests, the challenge to the handshake, `chat`/`agent` events to the run they belong to
 * and to the observers of every session. Frames of unknown shape are dropped.
 */
export function routeFrame(text: string, attempt: number, to: FrameRoutes): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    to.log.warn({ length: text.length }, "ignoring a frame that is not JSON");
    return;
  }
  // Dispatch on `type` first: one schema per frame instead of trying a union (events are hot).
  const type = (parsed as { type?: unknown } | null)?.type;
  const schema = type === "res" ? responseFrameSchema : type === "event" ? eventFrameSchema : undefined;
  const frame = schema?.safeParse(parsed);
  if (!frame?.success) {
    to.log.debug("ignoring a frame of unknown shape");
    return;
  }
  const value = frame.data as ResponseFrame | EventFrame;
  if (value.type === "res") to.response(value);
  else routeEvent(value, attempt, to);
}

function routeEvent(frame: EventFrame, attempt: number, to: FrameRoutes): void {
  switch (frame.event) {
    case "connect.challenge": {
      const challenge = challengeSchema.safeParse(frame.payload);
      if (challenge.success) to.challenge(challenge.data.nonce, challenge.data.ts, attempt);
      return;
    }
    case "tick":
      return to.tick();
    case "chat":
      return routeChatEvent(frame.payload, to.runs, to.observer);
    case "agent":
      return routeAgentEvent(frame.payload, to.runs, to.observer);
    default:
      // health, task, sessions.changed, … arrive unasked: nothing to do with them here.
      return;
  }
}

function routeChatEvent(payload: unknown, runs: AgentRuns, observer: SessionObserver): void {
  const parsed = chatEventSchema.safeParse(payload);
  if (!parsed.success) return;
  const event = parsed.data;
  const text = messageText(event.message);
  runs.onChat(event, text);
  if (event.state === "final") observer.noteFinal(event.sessionKey, event.runId, text, event.message);
  observer.emit({
    kind: "chat",
    sessionKey: event.sessionKey,
    runId: event.runId,
    state: event.state,
    text,
    raw: payload,
    reconciled: false,
  });
}

function routeAgentEvent(payload: unknown, runs: AgentRuns, observer: SessionObserver): void {
  const parsed = agentEventSchema.safeParse(payload);
  if (!parsed.success) return;
  const event = parsed.data;
  runs.onAgent(event);
  const text = typeof event.data?.text === "string" ? event.data.text : "";
  const sessionKey = event.sessionKey ?? runs.get(event.runId)?.sessionKey ?? "";
  observer.emit({
    kind: "agent",
    sessionKey,
    runId: event.runId,
    state: event.stream,
    text,
    raw: payload,
    reconciled: false,
  });
}
