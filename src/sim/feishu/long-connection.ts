import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Logger } from "../../core/index.js";
import { FRAME_CONTROL, FRAME_DATA, decodeFrame, encodeFrame, headerMap, type Frame } from "./frame-codec.js";
import { hex, newIds } from "./ids.js";
import type { DeliveryResult, FrameRecord } from "./types.js";

/** What `/callback/ws/endpoint` hands out and every pong repeats. */
export interface ClientConfig {
  PingInterval: number;
  ReconnectCount: number;
  ReconnectInterval: number;
  ReconnectNonce: number;
}

interface Conn {
  id: string;
  appId: string;
  serviceId: number;
  ws: WebSocket;
  /** Events go only to ready connections (see `open`). */
  ready: boolean;
  readyTimer?: NodeJS.Timeout;
  /** A half-open link: nothing arrives from it and nothing reaches it (see `silence`). */
  silent?: boolean;
}

interface PendingAck {
  connId: string;
  startedAt: number;
  timer: NodeJS.Timeout;
  resolve: (result: DeliveryResult) => void;
}

const MAX_FRAMES = 10_000;
const MAX_DEVICES = 10_000;
const PAYLOAD_LOG_BYTES = 4096;
/** A client that never pings is made ready after this long anyway. */
const READY_FALLBACK_MS = 500;
const utf8 = new TextDecoder("utf-8");

export interface LongConnectionOptions {
  logger: Logger;
  clientConfig: () => ClientConfig;
  ackTimeoutMs: number;
  fragmentBytes: number;
  /** A client of `appId` connected (flush its queue). */
  onConnect: (appId: string) => void;
  /** See `EmulatorOptions.eventDelivery`. */
  eventDelivery?: "rotate" | "random";
}

/**
 * The long-connection side: issues endpoints, accepts the SDK's WebSocket at `/ws`,
 * answers pings, pushes events as (multi-part) data frames and matches acks.
 */
export class LongConnections {
  /** Frames in both directions, newest last (bounded). */
  readonly frames: FrameRecord[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly devices = new Map<string, { appId: string; serviceId: number }>();
  private readonly conns = new Map<string, Conn>();
  private readonly pending = new Map<string, PendingAck>();
  private readonly rotation = new Map<string, number>();
  private seq = 1;

  constructor(private readonly options: LongConnectionOptions) {}

  /** Registers a device for `appId` and returns the URL the SDK should open. */
  issue(appId: string, base: string): string {
    const deviceId = newIds.deviceId();
    const serviceId = 1 + Math.floor(Math.random() * 1_000_000);
    this.devices.set(deviceId, { appId, serviceId });
    if (this.devices.size > MAX_DEVICES) this.devices.delete(this.devices.keys().next().value as string);
    // device_id must not come first: the SDK parses the whole URL with qs.parse, so the
    // first key swallows "ws://host/ws?" (as with the real URL, which starts with fpid).
    return `${base}/ws?fpid=${1 + Math.floor(Math.random() * 999)}&device_id=${deviceId}&service_id=${serviceId}&ticket=${hex(16)}`;
  }

  /** Handles an HTTP upgrade for `/ws`; refuses unknown devices with 403. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const device = this.devices.get(url.searchParams.get("device_id") ?? "");
    if (url.pathname !== "/ws" || !device) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, device.appId, device.serviceId));
  }

  /** Connected clients that receive events (of one app). */
  count(appId?: string): number {
    let n = 0;
    for (const conn of this.conns.values()) if (conn.ready && (!appId || conn.appId === appId)) n++;
    return n;
  }

  /**
   * Pushes one event payload to a client of `appId` (in turn when several are connected, or
   * at random as Feishu does with `eventDelivery: "random"`). Undefined when no client is connected.
   */
  push(appId: string, payload: string, parts?: number): Promise<DeliveryResult> | undefined {
    const candidates = [...this.conns.values()].filter((c) => c.ready && c.appId === appId);
    if (candidates.length === 0) return undefined;
    const turn = this.rotation.get(appId) ?? 0;
    this.rotation.set(appId, turn + 1);
    const pick =
      this.options.eventDelivery === "random" ? Math.floor(Math.random() * candidates.length) : turn;
    const conn = candidates[pick % candidates.length]!;
    const messageId = newIds.frameMessage();
    const traceId = newIds.trace();
    const chunks = split(Buffer.from(payload, "utf8"), parts, this.options.fragmentBytes);
    const result = new Promise<DeliveryResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        resolve({
          via: "websocket",
          code: 0,
          timedOut: true,
          ms: this.options.ackTimeoutMs,
          frameMessageId: messageId,
        });
      }, this.options.ackTimeoutMs);
      this.pending.set(messageId, { connId: conn.id, startedAt: performance.now(), timer, resolve });
    });
    chunks.forEach((chunk, seq) => {
      const headers = [
        { key: "type", value: "event" },
        { key: "message_id", value: messageId },
        { key: "sum", value: String(chunks.length) },
        { key: "seq", value: String(seq) },
        { key: "trace_id", value: traceId },
      ];
      this.send(conn, {
        SeqID: this.seq++,
        LogID: this.seq,
        service: conn.serviceId,
        method: FRAME_DATA,
        headers,
        payload: chunk,
      });
    });
    return result;
  }

  /** Terminates sockets (no close frame), as a network failure would; the SDK reconnects. */
  drop(appId?: string): void {
    for (const conn of [...this.conns.values()]) {
      if (appId && conn.appId !== appId) continue;
      // Gone at once, not when the close event comes: an event emitted right after the drop
      // must wait for the reconnect, not go to a dead socket.
      this.conns.delete(conn.id);
      conn.ws.terminate();
    }
  }

  /**
   * The sockets open now (of one app) go silent, as a half-open link does: they stay open
   * and keep getting events, but nothing arrives from them (pings, acks) and nothing
   * reaches them (pongs, events — so no event pushed there is acknowledged). Sockets opened
   * later work. Returns how many went silent.
   */
  silence(appId?: string): number {
    let count = 0;
    for (const conn of this.conns.values()) {
      if (appId && conn.appId !== appId) continue;
      conn.silent = true;
      count++;
    }
    return count;
  }

  close(): void {
    this.drop();
    for (const [id, ack] of this.pending) this.settle(id, ack, { code: 0, timedOut: true });
    this.wss.close();
  }

  /**
   * A new socket is not ready for events until the client's first frame (the SDK pings as
   * soon as the socket opens): the SDK attaches its message handler only after its
   * connect promise settles, so a frame pushed right after the upgrade would be dropped.
   */
  private open(ws: WebSocket, appId: string, serviceId: number): void {
    const conn: Conn = { id: newIds.trace(), appId, serviceId, ws, ready: false };
    this.conns.set(conn.id, conn);
    this.options.logger.debug({ appId, connId: conn.id }, "long connection open");
    conn.readyTimer = setTimeout(() => this.makeReady(conn), READY_FALLBACK_MS);
    conn.readyTimer.unref();
    ws.on("message", (data: Buffer) => this.onMessage(conn, data));
    ws.on("error", (error) =>
      this.options.logger.debug({ err: error, connId: conn.id }, "long connection error"),
    );
    ws.on("close", () => {
      clearTimeout(conn.readyTimer);
      this.conns.delete(conn.id);
      // An event sent but not acked on a lost socket counts as unacknowledged.
      for (const [id, ack] of this.pending)
        if (ack.connId === conn.id) this.settle(id, ack, { code: 0, timedOut: true });
      this.options.logger.debug({ appId, connId: conn.id }, "long connection closed");
    });
  }

  private makeReady(conn: Conn): void {
    if (conn.ready || !this.conns.has(conn.id)) return;
    clearTimeout(conn.readyTimer);
    conn.ready = true;
    this.options.onConnect(conn.appId);
  }

  private onMessage(conn: Conn, data: Buffer): void {
    if (conn.silent) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      this.options.logger.warn({ err: error, connId: conn.id }, "undecodable frame");
      return;
    }
    const headers = headerMap(frame);
    this.record("in", conn, frame, headers);
    if (frame.method === FRAME_CONTROL && headers.type === "ping") {
      const payload = Buffer.from(JSON.stringify(this.options.clientConfig()));
      this.send(conn, {
        SeqID: 0,
        LogID: 0,
        service: frame.service,
        method: FRAME_CONTROL,
        headers: [{ key: "type", value: "pong" }],
        payload,
      });
      this.makeReady(conn);
      return;
    }
    if (frame.method !== FRAME_DATA) return;
    const ack = this.pending.get(headers.message_id ?? "");
    if (!ack) return;
    let answer: { code?: unknown; data?: unknown } = {};
    try {
      answer = JSON.parse(utf8.decode(frame.payload ?? new Uint8Array())) as typeof answer;
    } catch {
      // A malformed ack still settles the delivery, with code 0.
    }
    let decoded: unknown;
    if (typeof answer.data === "string") {
      try {
        decoded = JSON.parse(Buffer.from(answer.data, "base64").toString("utf8"));
      } catch {
        decoded = answer.data;
      }
    }
    this.settle(headers.message_id!, ack, {
      code: typeof answer.code === "number" ? answer.code : 0,
      ...(decoded !== undefined ? { data: decoded } : {}),
    });
  }

  private settle(
    messageId: string,
    ack: PendingAck,
    fields: { code: number; data?: unknown; timedOut?: boolean },
  ): void {
    clearTimeout(ack.timer);
    this.pending.delete(messageId);
    ack.resolve({
      via: "websocket",
      ...fields,
      ms: Math.round(performance.now() - ack.startedAt),
      frameMessageId: messageId,
    });
  }

  private send(conn: Conn, frame: Frame): void {
    if (conn.silent) return;
    this.record("out", conn, frame, headerMap(frame));
    conn.ws.send(encodeFrame(frame), (error) => {
      if (error) this.options.logger.debug({ err: error, connId: conn.id }, "frame send failed");
    });
  }

  private record(dir: FrameRecord["dir"], conn: Conn, frame: Frame, headers: Record<string, string>): void {
    const payload =
      frame.payload && frame.payload.length > 0
        ? utf8.decode(frame.payload.subarray(0, PAYLOAD_LOG_BYTES))
        : undefined;
    this.frames.push({
      at: Date.now(),
      dir,
      appId: conn.appId,
      connId: conn.id,
      method: frame.method,
      headers,
      payload,
    });
    if (this.frames.length > MAX_FRAMES) this.frames.splice(0, this.frames.length - MAX_FRAMES);
  }
}

/** Splits a payload into `parts` pieces, or into pieces of at most `fragmentBytes`. */
function split(payload: Buffer, parts: number | undefined, fragmentBytes: number): Buffer[] {
  let n = 1;
  if (parts && parts > 1) n = parts;
  else if (fragmentBytes > 0 && payload.length > fragmentBytes) n = Math.ceil(payload.length / fragmentBytes);
  n = Math.max(1, Math.min(n, payload.length));
  const size = Math.ceil(payload.length / n);
  const out: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) out.push(payload.subarray(i, i + size));
  return out;
}
