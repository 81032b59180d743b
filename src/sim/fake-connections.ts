import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocket, type RawData } from "ws";
import type { Logger } from "../core/index.js";
import { requestFrameSchema, type RequestFrame } from "../gateway/index.js";
import type { Reply } from "./fake-runs.js";
import { errorBody, type ClientInfo } from "./fake-types.js";

/** One socket of the fake gateway. */
export interface Conn {
  id: string;
  ws: WebSocket;
  nonce: string;
  challengeTs: number;
  challenged: boolean;
  authenticated: boolean;
  role?: string;
  deviceId?: string;
  /** Per-connection event sequence number (the challenge carries none). */
  seq: number;
  /** The socket is corked until the end of this tick (see `send`). */
  corked?: boolean;
}

export interface HubCallbacks {
  onOpen(conn: Conn): void;
  /** A request frame arrived; `at` is `performance.timeOrigin + performance.now()`. */
  onFrame(conn: Conn, frame: RequestFrame, at: number): void;
  onClose(conn: Conn, code: number): void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** `GET /healthz` and `GET /readyz`: 200 without auth, like the real gateway; 404 otherwise. */
export function answerHealth(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(path === "/healthz" ? { ok: true, status: "live" } : { ok: true, ready: true }));
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
}

/**
 * The fake gateway's sockets: the challenge, framing, per-connection `seq`, broadcast.
 * While `stalled` nothing at all leaves the gateway, as with a hung process.
 */
export class ConnectionHub {
  stalled = false;
  private readonly conns = new Map<string, Conn>();

  constructor(
    private readonly callbacks: HubCallbacks,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  clients(): ClientInfo[] {
    return [...this.conns.values()].map(({ id, authenticated, role, deviceId }) => ({
      connId: id,
      authenticated,
      role,
      deviceId,
    }));
  }

  open(ws: WebSocket): void {
    const conn: Conn = {
      id: randomUUID(),
      ws,
      nonce: randomUUID(),
      challengeTs: Date.now(),
      challenged: false,
      authenticated: false,
      seq: 0,
    };
    this.conns.set(conn.id, conn);
    ws.on("message", (data, isBinary) => this.onMessage(conn, data, isBinary));
    ws.on("error", (error) => this.log.debug({ err: error, connId: conn.id }, "socket error"));
    ws.on("close", (code) => {
      this.conns.delete(conn.id);
      this.log.debug({ connId: conn.id, code }, "connection closed");
      this.callbacks.onClose(conn, code);
    });
    this.log.debug({ connId: conn.id }, "connection opened");
    this.callbacks.onOpen(conn);
    this.challengeWaiting();
  }

  /** Sends the challenge to sockets that have not had one (new ones, or those that opened while stalled). */
  challengeWaiting(): void {
    if (this.stalled) return;
    for (const conn of this.conns.values()) {
      if (conn.challenged) continue;
      conn.challenged = true;
      conn.challengeTs = Date.now();
      this.send(conn, {
        type: "event",
        event: "connect.challenge",
        payload: { nonce: conn.nonce, ts: conn.challengeTs },
      });
    }
  }

  /** Answers request `id` on this socket. */
  replier(conn: Conn, id: string): Reply {
    return (body) => this.send(conn, { type: "res", id, ...body });
  }

  /** Sends an event to every authenticated socket (only operators when `operatorsOnly`). */
  broadcast(event: string, payload: unknown, operatorsOnly: boolean): void {
    if (this.stalled) return;
    for (const conn of this.conns.values()) {
      if (!conn.authenticated || (operatorsOnly && conn.role !== "operator")) continue;
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      this.send(conn, { type: "event", event, payload, seq: ++conn.seq });
    }
  }

  send(conn: Conn, frame: Record<string, unknown>): void {
    if (this.stalled || conn.ws.readyState !== WebSocket.OPEN) return;
    // Frames sent in one tick leave in one write (as a busy real server's would), not one
    // system call each: cork the socket and uncork it once the tick is over.
    const socket = (
      conn.ws as unknown as { _socket?: { cork(): void; uncork(): void; writableCorked?: number } }
    )._socket;
    if (socket && !conn.corked) {
      conn.corked = true;
      socket.cork();
      process.nextTick(() => {
        conn.corked = false;
        socket.uncork();
      });
    }
    conn.ws.send(JSON.stringify(frame));
  }

  /**
   * Writes `data` as it is on every open socket (authenticated ones only unless `all`),
   * even while stalled: no framing, no `seq`. Returns how many sockets it went to.
   */
  sendRaw(data: string | Buffer, options: { binary?: boolean; all?: boolean } = {}): number {
    let count = 0;
    for (const conn of this.conns.values()) {
      if (!options.all && !conn.authenticated) continue;
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      conn.ws.send(data, { binary: options.binary ?? Buffer.isBuffer(data) });
      count++;
    }
    return count;
  }

  /** Terminates every socket abruptly (no close frame). */
  terminateAll(): void {
    for (const conn of this.conns.values()) conn.ws.terminate();
  }

  private onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    const at = performance.timeOrigin + performance.now();
    const buffer = toBuffer(data);
    let raw: unknown;
    try {
      raw = JSON.parse(buffer.toString("utf8"));
    } catch {
      this.log.warn({ connId: conn.id, isBinary, bytes: buffer.length }, "ignoring a frame that is not JSON");
      return;
    }
    const parsed = requestFrameSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn({ connId: conn.id }, "refusing a frame that is not a request");
      const id = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
      if (typeof id === "string")
        this.replier(conn, id)(errorBody("INVALID_REQUEST", "invalid request frame"));
      return;
    }
    this.callbacks.onFrame(conn, parsed.data, at);
  }
}
