import type { Logger } from "../core/index.js";
import type { GatewayErrorShape, RequestFrame } from "../gateway/index.js";

/** The version string the fake reports in `hello-ok` and `status`. */
export const FAKE_SERVER_VERSION = "2026.9.6-fake";
/** `policy.maxPayload` of the real gateway (25 MiB). */
export const MAX_PAYLOAD = 26_214_400;
/** Events advertised in `hello-ok.features.events`. */
export const FAKE_EVENTS = ["chat", "agent", "tick", "health"] as const;

/** How the fake's agent answers one run. */
export type ReplyScript =
  /** Replies `echo: <message>`. */
  | { kind: "echo"; chunks?: number; delayMs?: number }
  /** Replies `text`, streamed in `chunks` pieces (default 3) with `delayMs` (default 5) between them. */
  | { kind: "text"; text: string; chunks?: number; delayMs?: number }
  /** The run fails: `agent` answers `AGENT_FAILED`, chat state `error`. */
  | { kind: "fail"; message: string }
  /** The run never finishes until it is aborted or the socket that started it drops. */
  | { kind: "stall" };

/** What a script sees of the run it scripts. */
export interface ScriptContext {
  message: string;
  sessionKey: string;
  agentId: string;
  runId: string;
}

/** A fixed script, or one chosen per run. */
export type ScriptSource = ReplyScript | ((ctx: ScriptContext) => ReplyScript | Promise<ReplyScript>);

export interface FakeGatewayOptions {
  /** The shared gateway token (`gateway.auth.token`). */
  token: string;
  host?: "127.0.0.1";
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Act as a remote gateway: unknown devices must be approved (see `approve`). */
  requirePairing?: boolean;
  /** A pending pairing request expires after this long without retries (default 5 min). */
  pairingTtlMs?: number;
  /** Tick period announced in `hello-ok.policy` and used for `tick` events (default 30 000). */
  tickIntervalMs?: number;
  /** Default: `{kind:"echo"}` in 3 chunks, 5 ms apart. */
  script?: ScriptSource;
  logger?: Logger;
}

export type RunStatus = "running" | "ok" | "error" | "aborted";

/** One run as tests see it (a copy). */
export interface RunInfo {
  runId: string;
  sessionKey: string;
  agentId: string;
  message: string;
  idempotencyKey: string;
  status: RunStatus;
  /** `agent`, `chat.send`, or `group` for `sayInGroup`. */
  origin: "agent" | "chat.send" | "group";
  /** The assistant text so far (the final text once finished). */
  text: string;
  error?: string;
  startedAt: number;
  endedAt?: number;
}

/** One request frame as it arrived, for tests and benchmarks. */
export interface ReceivedFrame {
  /** Arrival time, `performance.timeOrigin + performance.now()` (ms, fractional). */
  at: number;
  connId: string;
  frame: RequestFrame;
}

export interface PendingPairing {
  requestId: string;
  deviceId: string;
  requestedRole: string;
  requestedScopes: string[];
  createdAt: number;
  /** Last time the device asked; the request expires `pairingTtlMs` after this. */
  lastSeenAt: number;
}

export interface ClientInfo {
  connId: string;
  authenticated: boolean;
  role?: string;
  deviceId?: string;
}

/** A response body without `type` and `id` (the gateway adds those). */
export type ResponseBody = { ok: true; payload: unknown } | { ok: false; error: GatewayErrorShape };

export function okBody(payload: unknown): ResponseBody {
  return { ok: true, payload };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ResponseBody {
  return { ok: false, error: details ? { code, message, details } : { code, message } };
}

export interface FakeGatewayEvents {
  /** Every request frame, before it is handled (also while stalled). */
  request: (frame: RequestFrame, connId: string) => void;
  /** A socket opened (before the handshake). */
  connection: (connId: string) => void;
  /** A socket closed. */
  disconnect: (connId: string, code: number) => void;
  /** A run started. */
  run: (run: RunInfo) => void;
}
