// Longer than our usual file: the fake gateway's public surface for tests (runs, pairing,
// faults) sits on one server object; its parts live in the other fake-*.ts files.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { WebSocketServer } from "ws";
import { silentLogger, type Logger } from "../core/index.js";
import type { RequestFrame } from "../gateway/index.js";
import { ConnectionHub, answerHealth, type Conn } from "./fake-connections.js";
import { checkConnect, helloOk } from "./fake-handshake.js";
import { Listeners } from "./fake-listeners.js";
import { createMethods, type MethodHandler } from "./fake-methods.js";
import { PairingBook } from "./fake-pairing.js";
import { RunEngine, type Reply } from "./fake-runs.js";
import {
  MAX_PAYLOAD,
  errorBody,
  okBody,
  type ClientInfo,
  type FakeGatewayEvents,
  type FakeGatewayOptions,
  type PendingPairing,
  type ReceivedFrame,
  type ReplyScript,
  type RunInfo,
  type ScriptSource,
} from "./fake-types.js";

export * from "./fake-types.js";

const DEFAULT_TICK_MS = 30_000;
const DEFAULT_PAIRING_TTL_MS = 5 * 60_000;
const DEFAULT_SCRIPT: ReplyScript = { kind: "echo", chunks: 3, delayMs: 5 };
/** `received` keeps the newest frames only, so a long benchmark cannot grow it without bound. */
const MAX_RECEIVED = 100_000;

/**
 * A fake OpenClaw gateway (protocol v4) on loopback: a real WebSocket server speaking the
 * frames captured from openclaw 2026.9.6, plus `/healthz` and `/readyz`. Tests and the demo
 * drive it through the controls below. Secrets (token, device tokens) are never logged.
 */
export class FakeGateway {
  /** Every request frame received, in arrival order (see `ReceivedFrame`). */
  readonly received: ReceivedFrame[] = [];
  readonly tickIntervalMs: number;
  private readonly log: Logger;
  private readonly hub: ConnectionHub;
  private readonly deviceTokens = new Map<string, string>();
  private readonly pairing: PairingBook;
  private readonly engine: RunEngine;
  private readonly methods: Record<string, MethodHandler>;
  private readonly listeners: Listeners<FakeGatewayEvents>;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private token: string;
  private scriptSource: ScriptSource;
  private unstalled?: { promise: Promise<void>; resolve: () => void };
  /** Methods whose requests are read but never answered (`true`: all of them). */
  private ignored: boolean | ReadonlySet<string> = false;
  private tickTimer?: NodeJS.Timeout;
  private closing?: Promise<void>;
  private listenPort = 0;

  constructor(private readonly options: FakeGatewayOptions) {
    this.token = options.token;
    this.scriptSource = options.script ?? DEFAULT_SCRIPT;
    this.tickIntervalMs = options.tickIntervalMs ?? DEFAULT_TICK_MS;
    this.log = (options.logger ?? silentLogger()).child({ component: "fake-gateway" });
    this.listeners = new Listeners(this.log);
    this.pairing = new PairingBook(options.pairingTtlMs ?? DEFAULT_PAIRING_TTL_MS);
    this.hub = new ConnectionHub(
      {
        onOpen: (conn) => this.listeners.emit("connection", conn.id),
        onFrame: (conn, frame, at) => this.onFrame(conn, frame, at),
        onClose: (conn, code) => {
          this.engine.connectionClosed(conn.id);
          this.listeners.emit("disconnect", conn.id, code);
        },
      },
      this.log,
    );
    this.engine = new RunEngine({
      broadcast: (event, payload) => this.hub.broadcast(event, payload, true),
      isStalled: () => this.hub.stalled,
      whenRunnable: () => this.unstalled?.promise ?? Promise.resolve(),
      script: async (ctx) => {
        const source = this.scriptSource;
        return typeof source === "function" ? await source(ctx) : source;
      },
      onRunStarted: (run) => this.listeners.emit("run", run),
      logger: this.log,
    });
    this.methods = createMethods(this.engine);
    this.http = createServer(answerHealth);
    this.wss = new WebSocketServer({ server: this.http, maxPayload: MAX_PAYLOAD });
    this.wss.on("connection", (ws) => this.hub.open(ws));
  }

  /** Listens; resolves once the port is known. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    const address = this.http.address();
    this.listenPort = typeof address === "object" && address ? address.port : 0;
    this.tickTimer = setInterval(() => this.tick(), this.tickIntervalMs);
    this.tickTimer.unref();
    this.log.info({ url: this.url, requirePairing: Boolean(this.options.requirePairing) }, "fake gateway up");
    return this;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `ws://${this.options.host ?? "127.0.0.1"}:${this.listenPort}`;
  }

  /** Open sockets (authenticated or not). */
  connections(): number {
    return this.hub.size;
  }

  clients(): ClientInfo[] {
    return this.hub.clients();
  }

  /** Every run started (copies), in start order. */
  runs(): RunInfo[] {
    return this.engine.list();
  }

  /** Resolves with the run once it has finished (undefined when unknown). */
  runFinished(runId: string): Promise<RunInfo | undefined> {
    return this.engine.finished(runId);
  }

  /** How later runs answer (runs already going keep their script). Same as `setScript`. */
  get script(): ScriptSource {
    return this.scriptSource;
  }

  set script(script: ScriptSource) {
    this.scriptSource = script;
  }

  setScript(script: ScriptSource): void {
    this.scriptSource = script;
  }

  /** Changes the shared token for later handshakes; open connections stay. */
  setToken(token: string): void {
    this.token = token;
  }

  pendingPairings(): PendingPairing[] {
    return this.pairing.list();
  }

  approve(requestId: string): boolean {
    return this.pairing.approve(requestId);
  }

  approveDevice(deviceId: string): void {
    this.pairing.approveDevice(deviceId);
  }

  /** Broadcasts an arbitrary event (`health`, `update.available` …) to every authenticated connection. */
  emitEvent(event: string, payload: unknown): void {
    this.hub.broadcast(event, payload, false);
  }

  /**
   * The node's agent "says" `text` in its Feishu group session
   * `agent:<agentId>:feishu:group:<chatId>[:topic:<topicId>]`: a full run streamed to every
   * operator and appended to that session's history. Returns the run id.
   */
  sayInGroup(say: {
    chatId: string;
    text: string;
    agentId?: string;
    chunks?: number;
    delayMs?: number;
    topicId?: string;
  }): string {
    // Upstream lower-cases the agent id in session keys.
    const agentId = (say.agentId ?? "main").toLowerCase();
    const topic = say.topicId ? `:topic:${say.topicId}` : "";
    const runId = randomUUID();
    this.engine.start({
      runId,
      sessionKey: `agent:${agentId}:feishu:group:${say.chatId}${topic}`,
      agentId,
      message: "",
      origin: "group",
      script: { kind: "text", text: say.text, chunks: say.chunks, delayMs: say.delayMs },
    });
    return runId;
  }

  /** Terminates every socket abruptly (no close frame), as a network failure would. */
  dropConnections(): void {
    this.hub.terminateAll();
  }

  /**
   * While on, the gateway sends nothing at all: requests are logged in `received` but never
   * answered (not even later), ticks stop, runs pause and resume when it is turned off.
   */
  stall(on: boolean): void {
    if (on === this.hub.stalled) return;
    this.hub.stalled = on;
    if (on) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => (resolve = r));
      this.unstalled = { promise, resolve };
      return;
    }
    this.unstalled?.resolve();
    this.unstalled = undefined;
    this.hub.challengeWaiting();
  }

  /**
   * While on, requests (all, or only those of `methods`) are read and logged in `received`
   * but never answered — not even later — while the socket, ticks and events go on: a
   * gateway whose request handling hangs. With `connect` among them, a client never gets
   * past the handshake. `false` turns it off for requests that come after.
   */
  ignoreRequests(on: boolean | readonly string[]): void {
    this.ignored = typeof on === "boolean" ? on : new Set(on);
  }

  /**
   * Sends `data` as it is, text or binary, on every authenticated socket (every open one
   * with `all`): malformed JSON, frames of unknown type or shape, frames over a client's
   * size limit — whatever a broken gateway might send. Returns how many sockets it went to.
   */
  sendRaw(data: string | Buffer, options: { binary?: boolean; all?: boolean } = {}): number {
    return this.hub.sendRaw(data, options);
  }

  /** Subscribes to `request`, `connection`, `disconnect` or `run`; returns an unsubscribe function. */
  on<K extends keyof FakeGatewayEvents>(event: K, listener: FakeGatewayEvents[K]): () => void {
    return this.listeners.on(event, listener);
  }

  /** Stops everything; resolves when the port is closed. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.tickTimer);
      this.engine.close();
      this.unstalled?.resolve();
      this.hub.terminateAll();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
      this.log.info("fake gateway closed");
    })();
    return this.closing;
  }

  private onFrame(conn: Conn, frame: RequestFrame, at: number): void {
    this.received.push({ at, connId: conn.id, frame });
    if (this.received.length > MAX_RECEIVED) this.received.splice(0, this.received.length - MAX_RECEIVED);
    this.listeners.emit("request", frame, conn.id);
    // A stalled gateway never answers, not even later; nor does one ignoring this method.
    if (!this.hub.stalled && !this.ignores(frame.method)) void this.handle(conn, frame);
  }

  private ignores(method: string): boolean {
    return typeof this.ignored === "boolean" ? this.ignored : this.ignored.has(method);
  }

  private async handle(conn: Conn, frame: RequestFrame): Promise<void> {
    const reply = this.hub.replier(conn, frame.id);
    if (!conn.authenticated) {
      if (frame.method !== "connect") return reply(errorBody("INVALID_REQUEST", "connect required"));
      return this.connect(conn, frame, reply);
    }
    if (frame.method === "connect") return reply(errorBody("INVALID_REQUEST", "already connected"));
    const handler = Object.hasOwn(this.methods, frame.method) ? this.methods[frame.method] : undefined;
    if (!handler) return reply(errorBody("INVALID_REQUEST", `unknown method: ${frame.method}`));
    this.log.debug({ connId: conn.id, method: frame.method, id: frame.id }, "request");
    try {
      await handler(frame.params, { connId: conn.id, reply });
    } catch (error) {
      this.log.error({ err: error, method: frame.method }, "fake gateway method threw");
      reply(errorBody("UNAVAILABLE", `internal error in ${frame.method}`));
    }
  }

  private connect(conn: Conn, frame: RequestFrame, reply: Reply): void {
    const result = checkConnect({
      params: frame.params,
      challenge: { nonce: conn.nonce, ts: conn.challengeTs },
      token: this.token,
      deviceTokens: this.deviceTokens,
      pairing: this.options.requirePairing ? this.pairing : undefined,
      now: Date.now(),
    });
    if (!result.ok) {
      this.log.info({ connId: conn.id, reason: result.reason }, "connect refused");
      reply(result.response);
      conn.ws.close(result.closeCode, result.reason);
      return;
    }
    let deviceToken = this.deviceTokens.get(result.deviceId);
    if (!deviceToken) {
      deviceToken = randomBytes(32).toString("base64url");
      this.deviceTokens.set(result.deviceId, deviceToken);
    }
    Object.assign(conn, { authenticated: true, role: result.role, deviceId: result.deviceId });
    this.log.info({ connId: conn.id, deviceId: result.deviceId, role: result.role }, "client connected");
    reply(
      okBody(
        helloOk({
          connId: conn.id,
          methods: Object.keys(this.methods),
          role: result.role,
          scopes: result.scopes,
          deviceToken,
          tickIntervalMs: this.tickIntervalMs,
        }),
      ),
    );
  }

  private tick(): void {
    this.hub.broadcast("tick", { ts: Date.now() }, false);
  }
}

/** Starts a fake gateway on 127.0.0.1 (port 0 by default → see `url` and `port`). */
export function startFakeGateway(options: FakeGatewayOptions): Promise<FakeGateway> {
  return new FakeGateway(options).listen();
}
