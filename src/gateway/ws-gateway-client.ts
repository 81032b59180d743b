// Longer than our usual file: the client is where the link, the handshake, the pending
// requests, the runs and the observer meet; each lives in its own file, and what is left here
// is the wiring between them, which reads best in one place.
import type { ClawbridgeError, Logger } from "../core/index.js";
import { AgentRuns } from "./agent-runs.js";
import {
  resolveClientOptions,
  type ResolvedClientOptions,
  type WsGatewayClientOptions,
} from "./client-options.js";
import { routeFrame, type FrameRoutes } from "./frame-routing.js";
import type { HelloOk } from "./frames.js";
import { protocolMismatchError } from "./gateway-errors.js";
import { GatewayLink } from "./gateway-link.js";
import { Handshake, type HandshakeResult } from "./handshake.js";
import { closedByGatewayError, closedError, stoppedError, unreachableError } from "./link-errors.js";
import { HealthFacts } from "./health-facts.js";
import { PendingRequests } from "./pending-requests.js";
import { ReadyWaiters } from "./ready-waiters.js";
import type { AgentRun } from "./run.js";
import { SessionObserver } from "./session-observer.js";
import type {
  AttachRunRequest,
  GatewayClient,
  GatewayHealth,
  LinkState,
  ObservedEvent,
  ObserveFilter,
  RunAgentRequest,
  RunHandle,
  StateListener,
} from "./types.js";

export type { WsGatewayClientOptions } from "./client-options.js";

/** States in which a person must act (approve, fix a token, upgrade): kept while retrying. */
const REFUSED_STATES: ReadonlySet<LinkState> = new Set(["pairing", "auth-failed", "protocol-mismatch"]);

/**
 * The one client per OpenClaw node: the link (socket, watchdog, reconnect), the handshake,
 * requests with ids and timeouts, agent runs that survive a reconnect and observation of
 * every session, composed here. The state machine is drawn in `index.ts`.
 */
export class WsGatewayClient implements GatewayClient {
  readonly node: string;
  private readonly options: ResolvedClientOptions;
  private readonly log: Logger;
  private readonly link: GatewayLink;
  private readonly handshake: Handshake;
  private readonly requests: PendingRequests;
  private readonly waiters: ReadyWaiters;
  private readonly runs: AgentRuns;
  private readonly observer: SessionObserver;
  private readonly stateListeners = new Set<StateListener>();
  private state: LinkState = "idle";
  private stopped = true;
  private readonly facts: HealthFacts;
  private readonly routes: FrameRoutes;
  /** The attempt whose socket already had a frame logged as unreadable (see `oddFrameLevel`). */
  private oddFrameAttempt = 0;
  private badFrames = 0;
  /** The attempt whose challenge was answered: a socket gets one handshake. */
  private challengedAttempt = 0;

  constructor(options: WsGatewayClientOptions) {
    const resolved = resolveClientOptions(options);
    this.options = resolved;
    this.node = resolved.node;
    this.log = resolved.log;
    this.link = new GatewayLink(resolved, {
      frame: (text, attempt) => routeFrame(text, attempt, this.routes),
      closed: (code, reason) => this.onClose(code, reason),
      attemptFailed: (error, attempt) => this.attemptFailed(error, attempt),
      trouble: (error) => this.facts.recordError(error),
    });
    this.facts = new HealthFacts(resolved.clock);
    this.handshake = new Handshake(resolved);
    this.requests = new PendingRequests(resolved, (frame, run, id) => this.runs.onResponse(frame, run, id));
    this.waiters = new ReadyWaiters(resolved.clock);
    const secrets = resolved.secrets;
    const scrub = secrets ? (text: string) => secrets.scrubValues(text) : undefined;
    this.observer = new SessionObserver(this.node, this.log, resolved.clock, scrub);
    this.runs = new AgentRuns({
      node: this.node,
      ready: (timeoutMs) => this.ready(timeoutMs),
      send: (method, params, timeoutMs, run) =>
        this.rawRequest(method, params, timeoutMs, this.link.attempt, run),
      request: (method, params) => this.request(method, params),
      forget: (requestId) => this.requests.forget(requestId),
      requestTimeoutMs: resolved.requestTimeoutMs,
      connectWaitMs: resolved.connectWaitMs,
      log: this.log,
      clock: resolved.clock,
      ...(scrub ? { scrub } : {}),
    });
    this.routes = {
      log: this.log,
      badFrame: () => {
        this.badFrames += 1;
      },
      oddFrameLevel: (attempt) => {
        if (this.oddFrameAttempt === attempt) return "debug";
        this.oddFrameAttempt = attempt;
        return "warn";
      },
      response: (frame) => this.requests.onResponse(frame),
      challenge: (nonce, ts, attempt) => {
        // One handshake per socket: another challenge (a confused gateway, a stray frame) must
        // not start a second one, whose refusal ("already connected") would cut a working link.
        if (this.challengedAttempt === attempt) {
          this.log[this.routes.oddFrameLevel(attempt)](
            "ignoring a second connect challenge on this connection",
          );
          return;
        }
        this.challengedAttempt = attempt;
        this.answerChallenge(nonce, ts, attempt).catch((error: unknown) =>
          // The handshake deadline ends this attempt.
          this.log.error({ err: error }, "could not answer the gateway's challenge"),
        );
      },
      tick: () => this.facts.tick(),
      runs: this.runs,
      observer: this.observer,
    };
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const socket = this.link.halt();
    this.requests.failAll(stoppedError(this.node));
    this.runs.failAll(stoppedError(this.node, true));
    this.setState("stopped");
    this.waiters.rejectAll(stoppedError(this.node));
    await this.handshake.tokenWrite;
    await this.link.closeCleanly(socket);
  }

  health(): GatewayHealth {
    return this.facts.snapshot({
      node: this.node,
      url: this.options.url,
      state: this.state,
      latencyMs: this.link.latencyMs,
      runningRuns: this.runs.running(),
      failures: this.link.failures,
      badFrames: this.badFrames,
    });
  }

  /**
   * Resolves once connected. Rejects after `timeoutMs`, at once when the gateway refuses us
   * (pairing, token, protocol), and with `failFast` also when an attempt cannot connect at all.
   */
  ready(timeoutMs = 10_000, options: { failFast?: boolean } = {}): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    return this.waiters.wait(timeoutMs, options.failFast ?? false, () => this.unreachable(timeoutMs));
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  observe(listener: (event: ObservedEvent) => void, filter?: ObserveFilter): () => void {
    return this.observer.observe(listener, filter);
  }

  runAgent(request: RunAgentRequest): RunHandle {
    return this.runs.start(request);
  }

  attachRun(request: AttachRunRequest): RunHandle {
    return this.runs.attach(request);
  }

  async request<T = unknown>(
    method: string,
    params: unknown = {},
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<T> {
    if (this.state !== "connected") throw this.unreachable(0);
    return (await this.rawRequest(method, params, timeoutMs)) as T;
  }

  private rawRequest(
    method: string,
    params: unknown,
    timeoutMs: number,
    attempt = this.link.attempt,
    run?: AgentRun,
  ): Promise<unknown> {
    const socket = this.link.openSocket(attempt);
    if (!socket) return Promise.reject(this.unreachable(0));
    return this.requests.send(socket, method, params, timeoutMs, run);
  }

  private unreachable(afterMs: number): ClawbridgeError {
    return unreachableError(this.node, this.options.url, afterMs, this.facts.lastFailure?.error);
  }

  private setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    const health = this.health();
    for (const listener of this.stateListeners) listener(health);
  }

  // ── the link's attempts ──────────────────────────────────────────────────

  private connect(): void {
    if (this.stopped) return;
    this.setState("connecting");
    this.link.open();
  }

  /** Ends this attempt; the next one starts after `delayMs` (a refused state is kept meanwhile). */
  private reconnectAfter(delayMs: number): void {
    if (this.stopped) return;
    this.link.reconnectAfter(delayMs, () => this.connect());
    if (!REFUSED_STATES.has(this.state)) this.setState("backoff");
  }

  /** An attempt failed without a refusal: fail-fast waiters give up, the rest wait for the next one. */
  private attemptFailed(error: ClawbridgeError, attempt: number): void {
    if (attempt !== this.link.attempt) return;
    this.facts.recordError(error);
    this.waiters.rejectFailFast(() => this.unreachable(0));
    const first = this.link.failures === 0;
    // The gateway may say when to come back (rate limits, restarts): never sooner than that.
    const delayMs = Math.max(this.link.nextBackoff(), error.retryAfterMs ?? 0);
    this.noteFailedAttempt(error, delayMs, first);
    this.reconnectAfter(delayMs);
  }

  /**
   * The first failed attempt of an outage is worth a line (the health notice waits a minute);
   * the retries after it are not, or a node that is off for a day would fill the log.
   */
  private noteFailedAttempt(error: ClawbridgeError | undefined, retryInMs: number, first: boolean): void {
    this.log[first ? "warn" : "debug"](
      { err: error, retryInMs },
      "could not connect to the gateway; retrying",
    );
  }

  private onClose(code: number, reason: string): void {
    this.link.stopHeartbeat();
    const wasConnected = this.state === "connected";
    if (wasConnected) this.facts.disconnected();
    this.runs.detachAll();
    this.requests.failAll(closedError(this.node, code, reason));
    if (code === 1002) return this.refused("protocol-mismatch", protocolMismatchError(this.node, undefined));
    if (wasConnected) {
      // The socket's own error, when it had one, says why (an oversize frame, a reset).
      this.log.warn(
        { code, reason, err: this.facts.lastFailure?.error },
        "gateway connection lost; reconnecting",
      );
      this.reconnectAfter(this.link.nextBackoff());
      return;
    }
    if (!this.facts.lastFailure) this.facts.recordError(closedByGatewayError(this.node, code));
    this.waiters.rejectFailFast(() => this.unreachable(0));
    const first = this.link.failures === 0;
    const delayMs = this.link.nextBackoff();
    this.noteFailedAttempt(this.facts.lastFailure?.error, delayMs, first);
    this.reconnectAfter(delayMs);
  }

  // ── the handshake ────────────────────────────────────────────────────────

  private async answerChallenge(nonce: string, ts: number, attempt: number): Promise<void> {
    const result = await this.handshake.exchange(
      nonce,
      ts,
      (params) => this.rawRequest("connect", params, this.options.connectTimeoutMs, attempt),
      () => attempt === this.link.attempt,
    );
    if (result) this.afterHandshake(result, attempt);
  }

  private afterHandshake(result: HandshakeResult, attempt: number): void {
    switch (result.kind) {
      case "hello":
        return this.connected(result.hello);
      case "retry-with-device-token":
        this.log.warn("gateway refused the token; retrying with the stored device token");
        this.reconnectAfter(0);
        this.link.terminate();
        return;
      case "pairing": {
        const { requestId, command } = result.error.details;
        if (this.facts.notePairing(requestId, command))
          this.log.warn({ requestId, command }, result.error.describe());
        return this.refused("pairing", result.error, this.options.pairingRetryMs, result.retryAfterMs);
      }
      case "auth-failed":
        this.log.error({ tokenSource: this.options.tokenSource }, result.error.describe());
        return this.refused("auth-failed", result.error, this.link.nextBackoff(), result.retryAfterMs);
      case "protocol-mismatch":
        return this.refused("protocol-mismatch", result.error, undefined, result.retryAfterMs);
      case "failed":
        this.attemptFailed(result.error, attempt);
        this.link.terminate();
        return;
    }
  }

  /**
   * A person must act before this node works: say so once, tell every waiter, and keep
   * retrying — at `delayMs`, or at the backoff's cap for a protocol mismatch — so the link
   * comes back by itself once it is fixed. A gateway's `retryAfterMs` is obeyed.
   */
  private refused(
    state: "pairing" | "auth-failed" | "protocol-mismatch",
    error: ClawbridgeError,
    delayMs = this.options.backoff.maxMs,
    retryAfterMs = 0,
  ): void {
    if (state === "protocol-mismatch") this.log.error(error.describe());
    this.facts.recordError(error);
    this.setState(state);
    this.waiters.rejectAll(error);
    this.reconnectAfter(Math.max(delayMs, retryAfterMs));
    this.link.terminate();
  }

  private connected(hello: HelloOk): void {
    // A first connection has nothing to resume or reconcile.
    const { reconnect } = this.facts.connected(hello.server.version);
    this.link.established(hello.policy?.tickIntervalMs ?? this.options.tickIntervalMs);
    this.setState("connected");
    this.log.info({ server: hello.server.version, reconnect }, "gateway connected");
    this.waiters.resolveAll();
    const since = this.facts.disconnectedAt ?? 0;
    if (reconnect) void this.observer.reconcile((method, params) => this.request(method, params), since);
    this.runs.resume();
  }
}
