import os from "node:os";
import WebSocket from "ws";
import {
  ClawbridgeError,
  RecentIds,
  contentHash,
  isClawbridgeError,
  silentLogger,
  type Logger,
  type SecretRegistry,
} from "../core/index.js";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { deviceAuthPayload, type DeviceIdentity } from "./device-identity.js";
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
  type ConnectParams,
  type EventFrame,
  type GatewayErrorShape,
  type ResponseFrame,
} from "./frames.js";
import { gatewayError, pairingError, protocolMismatchError, tokenMismatchError } from "./gateway-errors.js";
import { AgentRun } from "./run.js";
import { parseSessionKey } from "./session-key.js";
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

const CLIENT_ID = "gateway-client";
const CLIENT_MODE = "backend";
const ROLE = "operator";
const FINAL_STATES = new Set([
  "ok",
  "completed",
  "done",
  "error",
  "failed",
  "aborted",
  "cancelled",
  "canceled",
]);

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
  private readonly runs = new Map<string, AgentRun>();
  private readonly observers = new Set<(event: ObservedEvent) => void>();
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
  private everConnected = false;
  private lastTickAt: number | undefined;
  private latencyMs: number | undefined;
  private serverVersion: string | undefined;
  private pairing: GatewayHealth["pairing"];
  private lastError: GatewayHealth["lastError"];
  private useDeviceToken = false;
  private triedDeviceToken = false;
  /** Sessions seen, with the time of their last final message, for reconciliation. */
  private readonly sessionsSeen = new Map<string, number>();
  private readonly finalsSeen = new RecentIds(5_000);

  constructor(private readonly options: WsGatewayClientOptions) {
    this.node = options.node;
    this.log = (options.logger ?? silentLogger()).child({ component: "gateway", node: options.node });
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
    for (const run of this.runs.values())
      run.fail(
        new ClawbridgeError(
          "CB_GATEWAY_CLOSED",
          `node ${this.node}: the client was stopped before the run ended`,
        ),
      );
    this.runs.clear();
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
      runningRuns: [...this.runs.values()].filter((run) => !run.settled).length,
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
    this.observers.add(listener);
    return () => this.observers.delete(listener);
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

  private pingSentAt: number | undefined;

  private sendConnect(nonce: string, ts: number, generation: number): void {
    const scopes = this.options.scopes ?? ["operator.read", "operator.write"];
    const platform = process.platform;
    const auth: NonNullable<ConnectParams["auth"]> = {};
    if (this.options.token) auth.token = this.options.token;
    const stored = this.storedDeviceToken;
    if (stored && (this.useDeviceToken || !this.options.token)) auth.deviceToken = stored;
    const signatureToken = auth.token ?? auth.deviceToken;
    const payload = deviceAuthPayload({
      deviceId: this.options.identity.deviceId,
      clientId: CLIENT_ID,
      clientMode: CLIENT_MODE,
      role: ROLE,
      scopes,
      signedAtMs: ts,
      token: signatureToken,
      nonce,
      platform,
    });
    const params: ConnectParams = {
      minProtocol: PROTOCOL_VERSION,
      maxProtocol: PROTOCOL_VERSION,
      client: {
        id: CLIENT_ID,
        displayName: `clawbridge@${os.hostname()}`,
        version: this.options.clientVersion ?? "0.1.0",
        platform,
        mode: CLIENT_MODE,
      },
      role: ROLE,
      scopes,
      caps: ["tool-events"],
      ...(Object.keys(auth).length > 0 ? { auth } : {}),
      device: {
        id: this.options.identity.deviceId,
        publicKey: this.options.identity.publicKey,
        signature: this.options.identity.sign(payload),
        signedAt: ts,
        nonce,
      },
    };
    this.rawRequest("connect", params, this.options.connectTimeoutMs ?? 10_000, generation).then(
      (hello) => this.onHello(hello, generation),
      (error: ClawbridgeError) => this.onConnectRefused(error, generation),
    );
  }

  private storedDeviceToken: string | undefined;
  /** The last device-token write, awaited by `stop()` so a quick restart keeps the token. */
  private tokenWrite: Promise<void> = Promise.resolve();

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
    const wasConnected = this.everConnected;
    this.everConnected = true;
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
    if (wasConnected) void this.afterReconnect();
    this.resumeRuns();
  }

  private onConnectRefused(error: ClawbridgeError, generation: number): void {
    if (generation !== this.generation) return;
    const details = (error.details.gatewayDetails ?? {}) as Record<string, unknown>;
    const code = String(error.details.gatewayCode ?? "");
    const detailCode = String(error.details.detailCode ?? "");
    if (code === "NOT_PAIRED" || detailCode === "PAIRING_REQUIRED") {
      const requestId = String(details.requestId ?? "");
      const refused = pairingError(this.node, this.options.url, requestId);
      if (this.pairing?.requestId !== requestId) {
        this.log.warn({ requestId, command: refused.details.command }, refused.describe());
        this.pairing = { requestId, command: String(refused.details.command), since: Date.now() };
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
    this.scheduleReconnect(this.nextBackoff());
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
    this.detachRuns();
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
    if (pending.run) return this.onAgentResponse(frame, pending);
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

  private corked = false;

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

  // ── agent runs ───────────────────────────────────────────────────────────

  runAgent(request: RunAgentRequest): RunHandle {
    const existing = this.runs.get(request.idempotencyKey);
    if (existing) return existing; // the same key never starts a second run
    const timeoutMs = request.timeoutMs ?? 30 * 60_000;
    const run = new AgentRun(request.idempotencyKey, request.sessionKey, Date.now() + timeoutMs, (r) =>
      this.abortRun(r),
    );
    this.runs.set(run.runId, run);
    const deadline = setTimeout(() => {
      if (run.settled) return;
      void this.abortRun(run).catch(() => undefined);
      run.fail(
        new ClawbridgeError(
          "CB_GATEWAY_TIMEOUT",
          `node ${this.node}: the run ${run.runId} did not finish within ${timeoutMs} ms`,
          { details: { node: this.node, runId: run.runId } },
        ),
      );
    }, timeoutMs);
    deadline.unref();
    const settled = () => {
      clearTimeout(deadline);
      // Keep finished runs briefly so a repeated key still returns this handle.
      setTimeout(() => this.runs.get(run.runId) === run && this.runs.delete(run.runId), 60_000).unref();
    };
    run.result.then(settled, settled);
    void this.startRun(run, request, timeoutMs);
    return run;
  }

  private async startRun(run: AgentRun, request: RunAgentRequest, timeoutMs: number): Promise<void> {
    try {
      await this.ready(Math.min(timeoutMs, this.options.connectWaitMs ?? 10_000));
    } catch (error) {
      run.fail(
        isClawbridgeError(error) ? error : new ClawbridgeError("CB_GATEWAY_UNREACHABLE", String(error)),
      );
      return;
    }
    run.params = {
      message: request.prompt,
      sessionKey: request.sessionKey,
      idempotencyKey: request.idempotencyKey,
      deliver: false,
      timeout: Math.ceil(timeoutMs / 1000),
      ...(request.agentId ? { agentId: request.agentId } : {}),
      ...(request.extraSystemPrompt ? { extraSystemPrompt: request.extraSystemPrompt } : {}),
    };
    this.sendAgent(run);
  }

  /** Sends (or, after a reconnect, re-sends) the `agent` request: the idempotency key makes that safe. */
  private sendAgent(run: AgentRun): void {
    run.detached = false;
    this.rawRequest("agent", run.params, this.options.requestTimeoutMs ?? 15_000, this.generation, run).catch(
      (error: unknown) => {
        if (
          isClawbridgeError(error) &&
          (error.code === "CB_GATEWAY_CLOSED" || error.code === "CB_GATEWAY_UNREACHABLE")
        ) {
          run.detached = true; // the link went away: sent again after the reconnect
          return;
        }
        run.fail(
          isClawbridgeError(error) ? error : new ClawbridgeError("CB_GATEWAY_RUN_FAILED", String(error)),
        );
      },
    );
  }

  /** After a reconnect: runs the gateway accepted are awaited; the others are sent again. */
  private resumeRuns(): void {
    for (const run of this.runs.values()) {
      if (!run.detached || run.settled) continue;
      if (run.accepted) void this.waitForRun(run);
      else if (run.params) this.sendAgent(run);
    }
  }

  private onAgentResponse(frame: ResponseFrame, pending: Pending): void {
    const run = pending.run!;
    clearTimeout(pending.timer);
    if (!frame.ok) {
      this.deletePendingFor(run);
      pending.resolve(undefined);
      run.fail(gatewayError(this.node, frame.error as GatewayErrorShape, { method: "agent" }));
      return;
    }
    const payload = (frame.payload ?? {}) as { status?: string; runId?: string };
    if (payload.status === "accepted" || payload.status === "in_flight") {
      run.accepted = true;
      run.emit({ kind: "accepted", runId: run.runId });
      if (payload.status === "in_flight") {
        // Someone (maybe our previous connection) already runs this key: wait for it.
        this.deletePendingFor(run);
        pending.resolve(undefined);
        void this.waitForRun(run);
      }
      return;
    }
    this.deletePendingFor(run);
    pending.resolve(undefined);
    this.settleFromPayload(run, frame.payload);
  }

  private deletePendingFor(run: AgentRun): void {
    if (run.requestId) this.pending.delete(run.requestId);
  }

  /** A final `agent`/`agent.wait` payload → the run's result. */
  private settleFromPayload(run: AgentRun, payload: unknown): void {
    const value = (payload ?? {}) as {
      status?: string;
      result?: { payloads?: { text?: string }[] };
      summary?: string;
      error?: unknown;
    };
    const text = value.result?.payloads?.map((p) => p.text ?? "").join("") ?? "";
    const status = String(value.status ?? "ok");
    if (status === "aborted" || status === "cancelled" || status === "canceled")
      return run.finish("aborted", text);
    if (status === "error" || status === "failed") {
      const reason =
        typeof value.error === "string" ? value.error : (value.summary ?? "the agent run failed");
      return run.fail(
        new ClawbridgeError(
          "CB_GATEWAY_RUN_FAILED",
          `node ${this.node}: run ${run.runId} failed: ${reason}`,
          { details: { node: this.node, runId: run.runId } },
        ),
      );
    }
    run.finish("ok", text);
  }

  /** Resumes a run after a reconnect (or an `in_flight` answer) with `agent.wait`. */
  private async waitForRun(run: AgentRun): Promise<void> {
    run.detached = false;
    while (!run.settled && Date.now() < run.deadline) {
      const remaining = run.deadline - Date.now();
      const waitMs = Math.min(remaining, 25_000);
      try {
        const result = (await this.rawRequest(
          "agent.wait",
          { runId: run.runId, timeoutMs: waitMs },
          waitMs + 5_000,
        )) as { status?: string };
        if (run.settled) return;
        if (result?.status === "timeout" || (result?.status && !FINAL_STATES.has(result.status))) continue;
        const text = this.textOf(result);
        if (text === "" && run.text === "") await this.fillFromHistory(run);
        this.settleFromPayload(run, result);
        return;
      } catch (error) {
        if (
          isClawbridgeError(error) &&
          (error.code === "CB_GATEWAY_CLOSED" || error.code === "CB_GATEWAY_UNREACHABLE")
        ) {
          run.detached = true; // resumed after the next reconnect
          return;
        }
        if (isClawbridgeError(error) && error.details.gatewayCode === "NOT_FOUND") {
          run.fail(
            new ClawbridgeError(
              "CB_GATEWAY_RUN_FAILED",
              `node ${this.node}: the gateway no longer knows run ${run.runId} (it restarted while the run was going)`,
              { fix: "run the task again", details: { node: this.node, runId: run.runId } },
            ),
          );
          return;
        }
        if (isClawbridgeError(error) && error.code === "CB_GATEWAY_TIMEOUT") continue;
        run.fail(
          isClawbridgeError(error) ? error : new ClawbridgeError("CB_GATEWAY_RUN_FAILED", String(error)),
        );
        return;
      }
    }
  }

  private textOf(payload: unknown): string {
    const value = (payload ?? {}) as { result?: { payloads?: { text?: string }[] } };
    return value.result?.payloads?.map((p) => p.text ?? "").join("") ?? "";
  }

  /** The final text of a run from the session's history, when the wait result carries none. */
  private async fillFromHistory(run: AgentRun): Promise<void> {
    try {
      const history = (await this.rawRequest(
        "chat.history",
        { sessionKey: run.sessionKey, limit: 20 },
        10_000,
      )) as { messages?: { role?: string; runId?: string }[] };
      const messages = history.messages ?? [];
      const mine = [...messages]
        .reverse()
        .find((m) => m.role === "assistant" && (m.runId === undefined || m.runId === run.runId));
      if (mine) run.progress(messageText(mine));
    } catch {
      // The result stands without text; the events may have carried it.
    }
  }

  private async abortRun(run: AgentRun): Promise<void> {
    await this.request("chat.abort", { sessionKey: run.sessionKey, runId: run.runId });
  }

  private detachRuns(): void {
    for (const run of this.runs.values()) if (!run.settled) run.detached = true;
  }

  // ── observation ──────────────────────────────────────────────────────────

  private onChatEvent(payload: unknown): void {
    const parsed = chatEventSchema.safeParse(payload);
    if (!parsed.success) return;
    const event = parsed.data;
    const text = messageText(event.message);
    const run = event.runId ? this.runs.get(event.runId) : undefined;
    if (run) {
      if (event.state === "delta") run.progress(text);
      else if (event.state === "final") run.progress(text);
      else if (event.state === "aborted") run.finish("aborted");
      else if (event.state === "error")
        run.fail(
          new ClawbridgeError("CB_GATEWAY_RUN_FAILED", `node ${this.node}: run ${run.runId} failed`, {
            details: { node: this.node, runId: run.runId },
          }),
        );
    }
    if (event.state === "final")
      this.noteFinal(event.sessionKey, event.runId, text, messageTimestamp(event.message));
    this.emitObserved({
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
    const run = this.runs.get(event.runId);
    const data = event.data ?? {};
    if (run) {
      if (event.stream === "lifecycle" && typeof data.phase === "string")
        run.emit({ kind: "lifecycle", phase: data.phase });
      if (event.stream === "assistant" && typeof data.text === "string") run.progress(data.text);
    }
    const sessionKey = event.sessionKey ?? run?.sessionKey ?? "";
    this.emitObserved({
      kind: "agent",
      sessionKey,
      runId: event.runId,
      state: event.stream,
      text: typeof data.text === "string" ? data.text : "",
      raw: payload,
      reconciled: false,
    });
  }

  private noteFinal(sessionKey: string, runId: string | undefined, text: string, timestamp: number): void {
    this.finalsSeen.add(finalKey(sessionKey, runId, text, timestamp));
    if (runId) this.finalsSeen.add(`${sessionKey}|run:${runId}`);
    this.sessionsSeen.set(sessionKey, Math.max(this.sessionsSeen.get(sessionKey) ?? 0, timestamp));
    if (this.sessionsSeen.size > 500) this.sessionsSeen.delete(this.sessionsSeen.keys().next().value!);
  }

  private emitObserved(event: Omit<ObservedEvent, "node" | "session" | "at">): void {
    if (this.observers.size === 0) return;
    const observed: ObservedEvent = {
      ...event,
      node: this.node,
      session: parseSessionKey(event.sessionKey),
      at: Date.now(),
    };
    for (const listener of this.observers) {
      try {
        listener(observed);
      } catch (error) {
        this.log.error({ err: error }, "an observer threw");
      }
    }
  }

  /**
   * After a reconnect: what was said while we were away, from `chat.history` of the sessions
   * we know and those the gateway says changed since — each final message once.
   */
  private async afterReconnect(): Promise<void> {
    const since = this.disconnectedAt ?? 0;
    const keys = new Set(this.sessionsSeen.keys());
    try {
      const listed = (await this.request("sessions.list", {})) as {
        sessions?: { key?: string; updatedAt?: number | null }[];
      };
      for (const session of listed.sessions ?? []) {
        if (session.key && (session.updatedAt ?? 0) >= since) keys.add(session.key);
      }
    } catch (error) {
      this.log.debug({ err: error }, "sessions.list failed; reconciling the sessions already known");
    }
    for (const sessionKey of keys) {
      try {
        const history = (await this.request("chat.history", { sessionKey, limit: 20 })) as {
          messages?: { role?: string; runId?: string; timestamp?: number }[];
        };
        const after = this.sessionsSeen.get(sessionKey) ?? since;
        for (const message of history.messages ?? []) {
          if (message.role !== "assistant") continue;
          const timestamp = messageTimestamp(message);
          const text = messageText(message);
          if (timestamp <= after) continue;
          if (this.finalsSeen.has(finalKey(sessionKey, message.runId, text, timestamp))) continue;
          if (message.runId && this.finalsSeen.has(`${sessionKey}|run:${message.runId}`)) continue;
          this.noteFinal(sessionKey, message.runId, text, timestamp);
          this.emitObserved({
            kind: "chat",
            sessionKey,
            runId: message.runId,
            state: "final",
            text,
            raw: message,
            reconciled: true,
          });
        }
      } catch (error) {
        this.log.debug({ err: error, sessionKey }, "chat.history failed during reconciliation");
      }
    }
  }
}

function messageTimestamp(message: unknown): number {
  const value = (message ?? {}) as { timestamp?: unknown };
  return typeof value.timestamp === "number"
    ? value.timestamp
    : typeof value.timestamp === "string"
      ? Date.parse(value.timestamp) || 0
      : 0;
}

function finalKey(sessionKey: string, runId: string | undefined, text: string, timestamp: number): string {
  return runId ? `${sessionKey}|run:${runId}` : `${sessionKey}|${timestamp}|${contentHash([text], 16)}`;
}
