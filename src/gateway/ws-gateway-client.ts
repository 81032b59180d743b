import WebSocket from "ws";
import {
  ClawbridgeError,
  silentLogger,
  type GatewayRefusalDetails,
  type Logger,
  type SecretRegistry,
} from "../core/index.js";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../core/index.js";
import type { DeviceIdentity } from "./device-identity.js";
import type { DeviceTokenStore } from "./device-tokens.js";
import {
  PROTOCOL_VERSION,
  agentEventSchema,
  challengeSchema,
  chatEventSchema,
  eventFrameSchema,
  responseFrameSchema,
  helloOkSchema,
  messageText,
  type EventFrame,
  type GatewayErrorShape,
  type ResponseFrame,
} from "./frames.js";
import { gatewayError, pairingError, protocolMismatchError, tokenMismatchError } from "./gateway-errors.js";
import { AgentRuns } from "./agent-runs.js";
import { buildConnectParams } from "./connect-params.js";
import type { AgentRun } from "./run.js";
import { SessionObserver } from "./session-observer.js";
import type {
  GatewayClient,
  GatewayHealth,
  LinkState,
  ObservedEvent,
  RunAgentRequest,
  RunHandle,
  StateListener,
} from "./types.js";

export interface WsGatewayClientOptions {
  node: string;
  url: string;
  token?: string;
  /** The environment variable the token came from, named in errors (never the token). */
  tokenSource?: string;
  identity: DeviceIdentity;
  deviceTokens?: DeviceTokenStore;
  logger?: Logger;
  /** Device tokens learned from gateways are added here, so logs never show them. */
  secrets?: SecretRegistry;
  clientVersion?: string;
  requestTimeoutMs?: number;
  /** How long the handshake may take before the attempt counts as failed. */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** While pairing is pending: retry this often (pending requests expire; ≤ 30 s). */
  pairingRetryMs?: number;
  pingIntervalMs?: number;
  /** A link is dead after this many tick intervals without any frame. */
  tickGraceFactor?: number;
  /** How long `runAgent` waits for a link before failing. */
  connectWaitMs?: number;
  scopes?: string[];
}

interface Pending {
  method: string;
  resolve: (payload: unknown) => void;
  reject: (error: ClawbridgeError) => void;
  timer?: NodeJS.Timeout;
  /** `agent` answers twice: the run it belongs to takes both answers. */
  run?: AgentRun;
}

/**
 * The one client per OpenClaw node: handshake with the persistent device identity, requests
 * with ids and timeouts, agent runs that survive a reconnect, observation of every session,
 * reconnect with backoff and a tick watchdog, and pairing that resolves itself once approved.
 */
export class WsGatewayClient implements GatewayClient {
  readonly node: string;
  private readonly log: Logger;
  private socket: WebSocket | undefined;
  private generation = 0;
  private state: LinkState = "idle";
  private stopped = true;
  private failures = 0;
  private nextRequest = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly runs: AgentRuns;
  private readonly observer: SessionObserver;
  private readonly stateListeners = new Set<StateListener>();
  private readyWaiters: {
    resolve: () => void;
    reject: (error: ClawbridgeError) => void;
    failFast: boolean;
  }[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private lastFrameAt = 0;
  private tickIntervalMs = 30_000;
  private connectedAt: number | undefined;
  private disconnectedAt: number | undefined;
  private pingSentAt: number | undefined;
  private storedDeviceToken: string | undefined;
  /** The last device-token write, awaited by `stop()` so a quick restart keeps the token. */
  private tokenWrite: Promise<void> = Promise.resolve();
  /** The socket is corked until the end of this tick (see `corkForTick`). */
  private corked = false;
  private lastTickAt: number | undefined;
  private latencyMs: number | undefined;
  private serverVersion: string | undefined;
  private pairing: GatewayHealth["pairing"];
  private lastError: GatewayHealth["lastError"];
  private useDeviceToken = false;
  private triedDeviceToken = false;

  constructor(private readonly options: WsGatewayClientOptions) {
    this.node = options.node;
    this.log = (options.logger ?? silentLogger()).child({ component: "gateway", node: options.node });
    this.observer = new SessionObserver(this.node, this.log);
    this.runs = new AgentRuns({
      node: this.node,
      ready: (timeoutMs) => this.ready(timeoutMs),
      send: (method, params, timeoutMs, run) =>
        this.rawRequest(method, params, timeoutMs, this.generation, run),
      request: (method, params) => this.request(method, params),
      forget: (requestId) => {
        const pending = this.pending.get(requestId);
        this.pending.delete(requestId);
        pending?.resolve(undefined);
      },
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      connectWaitMs: options.connectWaitMs ?? 10_000,
      log: this.log,
    });
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    this.generation++;
    this.failPending(new ClawbridgeError("CB_GATEWAY_CLOSED", `node ${this.node}: the client was stopped`));
    this.runs.failAll(
      new ClawbridgeError(
        "CB_GATEWAY_CLOSED",
        `node ${this.node}: the client was stopped before the run ended`,
      ),
    );
    this.setState("stopped");
    this.rejectWaiters(new ClawbridgeError("CB_GATEWAY_CLOSED", `node ${this.node}: the client was stopped`));
    await this.tokenWrite;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close(1000, "client stopped");
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 1_000).unref();
      });
    }
  }

  health(): GatewayHealth {
    return {
      node: this.node,
      url: this.options.url,
      state: this.state,
      connectedAt: this.state === "connected" ? this.connectedAt : undefined,
      lastTickAt: this.lastTickAt,
      latencyMs: this.latencyMs,
      runningRuns: this.runs.running(),
      serverVersion: this.serverVersion,
      protocol: this.state === "connected" ? PROTOCOL_VERSION : undefined,
      pairing: this.pairing,
      lastError: this.lastError,
      failures: this.failures,
    };
  }

  /**
   * Resolves once connected. Rejects after `timeoutMs`, at once when the gateway refuses us
   * (pairing, token, protocol), and with `failFast` also when an attempt cannot connect at all.
   */
  ready(timeoutMs = 10_000, options: { failFast?: boolean } = {}): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, failFast: options.failFast ?? false };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(this.unreachable(timeoutMs));
      }, timeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.readyWaiters.push(waiter);
    });
  }

  /** An attempt failed without an answer from the gateway: only fail-fast waiters give up. */
  private attemptFailed(): void {
    const error = this.unreachable(0);
    const failing = this.readyWaiters.filter((w) => w.failFast);
    this.readyWaiters = this.readyWaiters.filter((w) => !w.failFast);
    for (const waiter of failing) waiter.reject(error);
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  observe(listener: (event: ObservedEvent) => void): () => void {
    return this.observer.observe(listener);
  }

  private unreachable(afterMs: number): ClawbridgeError {
    const last = this.lastError;
    return new ClawbridgeError(
      "CB_GATEWAY_UNREACHABLE",
      `node ${this.node}: ${afterMs > 0 ? `no connection to ${this.options.url} after ${afterMs} ms` : `cannot connect to ${this.options.url}`}${last ? ` (${last.message.replace(`node ${this.node}: `, "")})` : ""}`,
      {
        fix:
          last?.fix ??
          `check that the gateway runs on ${this.node} (openclaw gateway status) and is reachable from here (gateway.bind "lan" or a tunnel)`,
        details: {
          node: this.node,
          url: this.options.url,
          lastError: last?.code,
          reason: last?.message.replace(`node ${this.node}: `, ""),
        },
      },
    );
  }

  private setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    const health = this.health();
    for (const listener of this.stateListeners) listener(health);
  }

  private recordError(error: ClawbridgeError): void {
    this.lastError = { code: error.code, message: error.message, fix: error.fix, at: Date.now() };
  }

  // ── connecting ───────────────────────────────────────────────────────────

  private connect(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.setState("connecting");
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.options.url, {
        handshakeTimeout: this.options.connectTimeoutMs ?? 10_000,
        maxPayload: 32 * 1024 * 1024,
      });
    } catch (error) {
      this.connectFailed(
        generation,
        new ClawbridgeError(
          "CB_GATEWAY_UNREACHABLE",
          `node ${this.node}: bad gateway URL ${this.options.url}: ${(error as Error).message}`,
          { fix: "nodes[].url must look like ws://host:18789" },
        ),
      );
      return;
    }
    this.socket = socket;
    const connectTimer = setTimeout(() => {
      if (generation !== this.generation || this.state === "connected") return;
      this.connectFailed(
        generation,
        new ClawbridgeError(
          "CB_GATEWAY_TIMEOUT",
          `node ${this.node}: the gateway did not complete the handshake in time`,
        ),
      );
      socket.terminate();
    }, this.options.connectTimeoutMs ?? 10_000);
    socket.on("message", (data) => {
      if (generation !== this.generation) return;
      this.lastFrameAt = Date.now();
      this.onFrame(String(data), generation);
    });
    socket.on("pong", () => {
      if (this.pingSentAt !== undefined) this.latencyMs = Date.now() - this.pingSentAt;
    });
    socket.on("error", (error) => {
      if (generation !== this.generation) return;
      this.recordError(
        new ClawbridgeError("CB_GATEWAY_UNREACHABLE", `node ${this.node}: ${error.message}`, {
          fix: `check that the gateway on ${this.node} runs and is reachable at ${this.options.url}`,
        }),
      );
    });
    socket.on("close", (code, reason) => {
      clearTimeout(connectTimer);
      if (generation !== this.generation) return;
      this.onClose(code, String(reason));
    });
  }

  private sendConnect(nonce: string, ts: number, generation: number): void {
    const params = buildConnectParams({
      identity: this.options.identity,
      nonce,
      ts,
      token: this.options.token,
      deviceToken: this.storedDeviceToken,
      preferDeviceToken: this.useDeviceToken,
      scopes: this.options.scopes,
      clientVersion: this.options.clientVersion,
    });
    this.rawRequest("connect", params, this.options.connectTimeoutMs ?? 10_000, generation).then(
      (hello) => this.onHello(hello, generation),
      (error: ClawbridgeError) => this.onConnectRefused(error, generation),
    );
  }

  private async loadStoredToken(): Promise<void> {
    this.storedDeviceToken = (await this.options.deviceTokens?.get(this.node))?.token;
    if (this.storedDeviceToken) this.options.secrets?.add(this.storedDeviceToken);
  }

  private onHello(payload: unknown, generation: number): void {
    if (generation !== this.generation) return;
    const hello = helloOkSchema.safeParse(payload);
    if (!hello.success) {
      this.connectFailed(
        generation,
        new ClawbridgeError("CB_GATEWAY_BAD_FRAME", `node ${this.node}: unexpected hello from the gateway`),
      );
      this.socket?.terminate();
      return;
    }
    // A first connection has nothing to resume or reconcile.
    const wasConnected = this.connectedAt !== undefined;
    this.failures = 0;
    this.pairing = undefined;
    this.lastError = undefined;
    this.triedDeviceToken = false;
    this.useDeviceToken = false;
    this.connectedAt = Date.now();
    this.serverVersion = hello.data.server.version;
    this.tickIntervalMs = hello.data.policy?.tickIntervalMs ?? 30_000;
    const deviceToken = hello.data.auth?.deviceToken;
    if (deviceToken) {
      this.options.secrets?.add(deviceToken);
      this.storedDeviceToken = deviceToken;
      this.tokenWrite = (
        this.options.deviceTokens?.set(this.node, {
          token: deviceToken,
          scopes: hello.data.auth?.scopes,
          url: this.options.url,
        }) ?? Promise.resolve()
      ).catch((error: unknown) => this.log.warn({ err: error }, "could not store the device token"));
    }
    this.startTimers();
    this.setState("connected");
    this.log.info({ server: this.serverVersion, reconnect: wasConnected }, "gateway connected");
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    if (wasConnected)
      void this.observer.reconcile(
        (method, params) => this.request(method, params),
        this.disconnectedAt ?? 0,
      );
    this.runs.resume();
  }

  private onConnectRefused(error: ClawbridgeError, generation: number): void {
    if (generation !== this.generation) return;
    const refusal = error.details as Partial<GatewayRefusalDetails>;
    const details = refusal.gatewayDetails ?? {};
    const code = refusal.gatewayCode ?? "";
    const detailCode = refusal.detailCode ?? "";
    if (code === "NOT_PAIRED" || detailCode === "PAIRING_REQUIRED") {
      const requestId = String(details.requestId ?? "");
      const refused = pairingError(this.node, this.options.url, requestId);
      if (this.pairing?.requestId !== requestId) {
        this.log.warn({ requestId, command: refused.details.command }, refused.describe());
        this.pairing = { requestId, command: refused.details.command, since: Date.now() };
      }
      this.recordError(refused);
      this.setState("pairing");
      this.rejectWaiters(refused);
      this.scheduleReconnect(Math.min(this.options.pairingRetryMs ?? 15_000, 30_000));
      this.socket?.terminate();
      return;
    }
    if (detailCode.startsWith("AUTH_TOKEN") || /token mismatch|unauthorized/i.test(error.message)) {
      if (this.storedDeviceToken && !this.triedDeviceToken) {
        // The shared token changed; the device token this gateway gave us may still be good.
        this.triedDeviceToken = true;
        this.useDeviceToken = true;
        this.log.warn("gateway refused the token; retrying with the stored device token");
        this.scheduleReconnect(0);
        this.socket?.terminate();
        return;
      }
      const refused = tokenMismatchError(
        this.node,
        this.options.tokenSource,
        this.triedDeviceToken,
        detailCode === "AUTH_TOKEN_MISSING",
      );
      this.log.error({ tokenSource: this.options.tokenSource }, refused.describe());
      this.recordError(refused);
      this.setState("auth-failed");
      this.rejectWaiters(refused);
      this.scheduleReconnect(this.nextBackoff());
      this.socket?.terminate();
      return;
    }
    if (code === "PROTOCOL_MISMATCH" || detailCode === "PROTOCOL_MISMATCH") {
      this.protocolMismatch(details.expectedProtocol);
      return;
    }
    this.connectFailed(generation, error);
    this.socket?.terminate();
  }

  private protocolMismatch(theirs: unknown): void {
    const refused = protocolMismatchError(this.node, theirs);
    this.log.error(refused.describe());
    this.recordError(refused);
    this.setState("protocol-mismatch");
    this.rejectWaiters(refused);
    this.scheduleReconnect(this.options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs);
    this.socket?.terminate();
  }

  private connectFailed(generation: number, error: ClawbridgeError): void {
    if (generation !== this.generation) return;
    this.recordError(error);
    this.attemptFailed();
    // The gateway may say when to come back (rate limits, restarts): never sooner than that.
    this.scheduleReconnect(Math.max(this.nextBackoff(), error.retryAfterMs ?? 0));
  }

  private nextBackoff(): number {
    return backoffDelay(this.failures++, this.options.backoff ?? DEFAULT_BACKOFF);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    // This attempt is over: its socket's late events must not schedule another one.
    this.generation++;
    this.clearTimers();
    if (this.state !== "pairing" && this.state !== "auth-failed" && this.state !== "protocol-mismatch")
      this.setState("backoff");
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private onClose(code: number, reason: string): void {
    this.clearTimers();
    const wasConnected = this.state === "connected";
    if (wasConnected) this.disconnectedAt = Date.now();
    this.runs.detachAll();
    this.failPending(
      new ClawbridgeError(
        "CB_GATEWAY_CLOSED",
        `node ${this.node}: the connection closed (${code}${reason ? ` ${reason}` : ""})`,
        { retryable: true },
      ),
    );
    if (code === 1002) {
      this.protocolMismatch(undefined);
      return;
    }
    if (wasConnected) {
      this.log.warn({ code, reason }, "gateway connection lost; reconnecting");
    } else {
      this.lastError ??= {
        code: "CB_GATEWAY_CLOSED",
        message: `node ${this.node}: the gateway closed the connection (${code})`,
        at: Date.now(),
      };
      this.attemptFailed();
    }
    this.scheduleReconnect(this.nextBackoff());
  }

  private startTimers(): void {
    this.clearTimers();
    const grace = this.tickIntervalMs * (this.options.tickGraceFactor ?? 2.5);
    this.watchdog = setInterval(
      () => {
        if (Date.now() - this.lastFrameAt > grace) {
          this.log.warn(
            { silentMs: Date.now() - this.lastFrameAt },
            "no tick from the gateway: the link is dead; reconnecting",
          );
          this.recordError(
            new ClawbridgeError(
              "CB_GATEWAY_TIMEOUT",
              `node ${this.node}: the gateway went silent (no tick for ${Math.round(grace)} ms)`,
            ),
          );
          this.socket?.terminate();
        }
      },
      Math.max(50, Math.min(this.tickIntervalMs / 2, 5_000)),
    );
    this.watchdog.unref();
    const ping = () => {
      this.pingSentAt = Date.now();
      try {
        this.socket?.ping();
      } catch {
        // Closing; the close handler takes over.
      }
    };
    ping();
    this.pinger = setInterval(ping, this.options.pingIntervalMs ?? 15_000);
    this.pinger.unref();
  }

  private clearTimers(): void {
    clearInterval(this.watchdog);
    clearInterval(this.pinger);
    this.watchdog = undefined;
    this.pinger = undefined;
  }

  private rejectWaiters(error: ClawbridgeError): void {
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
  }

  // ── frames and requests ──────────────────────────────────────────────────

  private onFrame(text: string, generation: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.log.warn({ length: text.length }, "ignoring a frame that is not JSON");
      return;
    }
    // Dispatch on `type` first: one schema per frame instead of trying a union (events are hot).
    const type = (parsed as { type?: unknown } | null)?.type;
    const schema = type === "res" ? responseFrameSchema : type === "event" ? eventFrameSchema : undefined;
    const frame = schema?.safeParse(parsed);
    if (!frame?.success) {
      this.log.debug("ignoring a frame of unknown shape");
      return;
    }
    const value = frame.data as ResponseFrame | EventFrame;
    if (value.type === "res") this.onResponse(value);
    else this.onEvent(value, generation);
  }

  private onResponse(frame: ResponseFrame): void {
    const pending = this.pending.get(frame.id);
    if (!pending) return;
    if (pending.run) {
      // The run's deadline governs from the first answer on, not the request timeout.
      clearTimeout(pending.timer);
      return this.runs.onResponse(frame, pending.run, frame.id);
    }
    this.pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.payload);
    else
      pending.reject(gatewayError(this.node, frame.error as GatewayErrorShape, { method: pending.method }));
  }

  private onEvent(frame: EventFrame, generation: number): void {
    switch (frame.event) {
      case "connect.challenge": {
        const challenge = challengeSchema.safeParse(frame.payload);
        if (challenge.success)
          void this.loadStoredToken().then(() =>
            this.sendConnect(challenge.data.nonce, challenge.data.ts, generation),
          );
        return;
      }
      case "tick":
        this.lastTickAt = Date.now();
        return;
      case "chat":
        return this.onChatEvent(frame.payload);
      case "agent":
        return this.onAgentEvent(frame.payload);
      default:
        // health, task, sessions.changed, … arrive unasked: nothing to do with them here.
        return;
    }
  }

  private rawRequest(
    method: string,
    params: unknown,
    timeoutMs: number,
    generation = this.generation,
    run?: AgentRun,
  ): Promise<unknown> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || generation !== this.generation) {
      return Promise.reject(this.unreachable(0));
    }
    const id = `cb-${++this.nextRequest}`;
    return new Promise((resolve, reject) => {
      const pending: Pending = { method, resolve, reject, run };
      if (run) run.requestId = id;
      pending.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new ClawbridgeError(
            "CB_GATEWAY_TIMEOUT",
            `node ${this.node}: ${method} got no answer in ${timeoutMs} ms`,
            { retryable: true, details: { node: this.node, method } },
          ),
        );
      }, timeoutMs);
      this.pending.set(id, pending);
      this.corkForTick(socket);
      socket.send(JSON.stringify({ type: "req", id, method, params }), (error) => {
        if (!error) return;
        clearTimeout(pending.timer);
        this.pending.delete(id);
        reject(
          new ClawbridgeError(
            "CB_GATEWAY_CLOSED",
            `node ${this.node}: could not send ${method}: ${error.message}`,
            { retryable: true },
          ),
        );
      });
    });
  }

  /** Requests made in one tick (200 runs started at once) leave in one write, not one system call each. */
  private corkForTick(socket: WebSocket): void {
    const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!raw || this.corked) return;
    this.corked = true;
    raw.cork();
    process.nextTick(() => {
      this.corked = false;
      raw.uncork();
    });
  }

  async request<T = unknown>(
    method: string,
    params: unknown = {},
    timeoutMs = this.options.requestTimeoutMs ?? 15_000,
  ): Promise<T> {
    if (this.state !== "connected") throw this.unreachable(0);
    return (await this.rawRequest(method, params, timeoutMs)) as T;
  }

  private failPending(error: ClawbridgeError): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      if (!pending.run) pending.reject(error);
    }
  }

  // ── runs and observation ─────────────────────────────────────────────────

  runAgent(request: RunAgentRequest): RunHandle {
    return this.runs.start(request);
  }

  private onChatEvent(payload: unknown): void {
    const parsed = chatEventSchema.safeParse(payload);
    if (!parsed.success) return;
    const event = parsed.data;
    const text = messageText(event.message);
    this.runs.onChat(event, text);
    if (event.state === "final") this.observer.noteFinal(event.sessionKey, event.runId, text, event.message);
    this.observer.emit({
      kind: "chat",
      sessionKey: event.sessionKey,
      runId: event.runId,
      state: event.state,
      text,
      raw: payload,
      reconciled: false,
    });
  }

  private onAgentEvent(payload: unknown): void {
    const parsed = agentEventSchema.safeParse(payload);
    if (!parsed.success) return;
    const event = parsed.data;
    this.runs.onAgent(event);
    const text = typeof event.data?.text === "string" ? event.data.text : "";
    const sessionKey = event.sessionKey ?? this.runs.get(event.runId)?.sessionKey ?? "";
    this.observer.emit({
      kind: "agent",
      sessionKey,
      runId: event.runId,
      state: event.stream,
      text,
      raw: payload,
      reconciled: false,
    });
  }
}
