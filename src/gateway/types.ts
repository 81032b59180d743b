import type { ErrorCode } from "../core/index.js";
import type { ParsedSessionKey } from "./session-key.js";

/** Where a node's gateway link stands. */
export type LinkState =
  | "idle" // not started
  | "connecting"
  | "connected"
  | "backoff" // waiting before the next attempt
  | "pairing" // the gateway wants this device approved: see `pairing`
  | "auth-failed" // wrong token: see `lastError`
  | "protocol-mismatch"
  | "stopped";

export interface PairingInfo {
  requestId: string;
  /** The exact command to run on the node's computer (never containing the token itself). */
  command: string;
  since: number;
}

/** A node's gateway as the pool and `doctor` see it. */
export interface GatewayHealth {
  node: string;
  url: string;
  state: LinkState;
  connectedAt?: number;
  lastTickAt?: number;
  /** Round trip of the last WebSocket ping, ms. */
  latencyMs?: number;
  runningRuns: number;
  serverVersion?: string;
  protocol?: number;
  pairing?: PairingInfo;
  lastError?: { code: ErrorCode; message: string; fix?: string; at: number };
  /** Consecutive failed connection attempts. */
  failures: number;
  /** Frames that could not be read since start (malformed, unknown, wrongly typed). */
  badFrames?: number;
}

export interface RunAgentRequest {
  prompt: string;
  sessionKey: string;
  /** Also the run id; the same key never starts a second run. */
  idempotencyKey: string;
  agentId?: string;
  timeoutMs?: number;
  extraSystemPrompt?: string;
}

/** A run the gateway accepted earlier (maybe from a previous process), to await again. */
export interface AttachRunRequest {
  runId: string;
  sessionKey: string;
  /** How long to wait for it from now (default 30 min); then it is aborted and fails as timed out. */
  timeoutMs?: number;
}

export type RunEvent =
  | { kind: "accepted"; runId: string }
  | { kind: "lifecycle"; phase: string }
  | { kind: "delta"; delta: string; text: string };

export interface RunResult {
  runId: string;
  status: "ok" | "error" | "aborted" | "timeout";
  text: string;
}

/** A run in progress: stream its events, await its result, or abort it. */
export interface RunHandle {
  readonly runId: string;
  /** Called for every event of this run, in order; returns an unsubscribe function. */
  onEvent(listener: (event: RunEvent) => void): () => void;
  /** Resolves with the final result; rejects with a ClawbridgeError (CB_GATEWAY_*) on failure. */
  readonly result: Promise<RunResult>;
  abort(): Promise<void>;
}

/** One `chat` or `agent` event seen on a gateway, from any session. */
export interface ObservedEvent {
  node: string;
  kind: "chat" | "agent";
  sessionKey: string;
  session: ParsedSessionKey;
  runId?: string;
  /** chat: delta | final | error | aborted; agent: the stream name. */
  state: string;
  /** chat: the message text; agent: data.text when present. */
  text: string;
  /** True when this came from `chat.history` after a reconnect rather than live. */
  reconciled: boolean;
  at: number;
  raw: unknown;
}

export type StateListener = (health: GatewayHealth) => void;

/**
 * Which events an observer wants. Events are many (deltas, lifecycle, usage …) and most
 * observers need few of them: the others are never turned into an `ObservedEvent`.
 */
export interface ObserveFilter {
  kind?: ObservedEvent["kind"];
  /** Chat states (`final` …) or agent streams wanted; all when absent. */
  states?: readonly string[];
}

/** One OpenClaw gateway, behind the small interface the rest of clawbridge uses. */
export interface GatewayClient {
  readonly node: string;
  start(): void;
  stop(): Promise<void>;
  health(): GatewayHealth;
  /** Resolves once connected (or rejects with the reason it cannot connect, after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  request<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T>;
  runAgent(request: RunAgentRequest): RunHandle;
  /**
   * Re-attaches to a run by its id (after a restart): the live handle when this client
   * tracks it, else one that awaits it with `agent.wait` and streams its later events.
   * Its result rejects with CB_GATEWAY_RUN_FAILED when the gateway no longer knows the run.
   */
  attachRun(request: AttachRunRequest): RunHandle;
  /** Every chat/agent event of every session; returns an unsubscribe function. */
  observe(listener: (event: ObservedEvent) => void, filter?: ObserveFilter): () => void;
  onState(listener: StateListener): () => void;
}
