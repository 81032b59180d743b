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
  /**
   * The level to log a frame that cannot be read at: `warn` for the first one on the socket
   * of `attempt` (a gateway speaking a protocol we do not know is worth a line), `debug` for
   * the rest (or a chatty one would fill the log).
   */
  oddFrameLevel(attempt: number): "warn" | "debug";
  /** A frame that could not be read was dropped (counted for the metrics). */
  badFrame(): void;
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
 * and to the observers of every session. Frames of unknown shape, and known events whose
 * payload cannot be read, are dropped with a log line.
 */
export function routeFrame(text: string, attempt: number, to: FrameRoutes): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    to.badFrame();
    to.log.warn({ length: text.length }, "ignoring a frame that is not JSON");
    return;
  }
  // Dispatch on `type` first: one schema per frame instead of trying a union (events are hot).
  const type = (parsed as { type?: unknown } | null)?.type;
  const schema = type === "res" ? responseFrameSchema : type === "event" ? eventFrameSchema : undefined;
  const frame = schema?.safeParse(parsed);
  if (!frame?.success) {
    to.badFrame();
    to.log[to.oddFrameLevel(attempt)](
      { type: describeType(type), length: text.length },
      "ignoring a frame of unknown shape",
    );
    return;
  }
  const value = frame.data as ResponseFrame | EventFrame;
  if (value.type === "res") to.response(value);
  else routeEvent(value, attempt, to);
}

function routeEvent(frame: EventFrame, attempt: number, to: FrameRoutes): void {
  let read = true;
  switch (frame.event) {
    case "connect.challenge": {
      const challenge = challengeSchema.safeParse(frame.payload);
      if (challenge.success) to.challenge(challenge.data.nonce, challenge.data.ts, attempt);
      read = challenge.success;
      break;
    }
    case "tick":
      return to.tick();
    case "chat":
      read = routeChatEvent(frame.payload, to.runs, to.observer);
      break;
    case "agent":
      read = routeAgentEvent(frame.payload, to.runs, to.observer);
      break;
    default:
      // health, task, sessions.changed, … arrive unasked: nothing to do with them here.
      return;
  }
  if (read) return;
  to.badFrame();
  to.log[to.oddFrameLevel(attempt)]({ event: frame.event }, "ignoring an event whose payload cannot be read");
}

/** A frame's `type` for the log: its text (cut short), or what kind of value it is. */
function describeType(type: unknown): string {
  if (typeof type === "string") return type.slice(0, 32);
  return type === null ? "null" : typeof type;
}

function routeChatEvent(payload: unknown, runs: AgentRuns, observer: SessionObserver): boolean {
  const parsed = chatEventSchema.safeParse(payload);
  if (!parsed.success) return false;
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
  return true;
}

function routeAgentEvent(payload: unknown, runs: AgentRuns, observer: SessionObserver): boolean {
  const parsed = agentEventSchema.safeParse(payload);
  if (!parsed.success) return false;
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
  return true;
}
