import WebSocket from "ws";
import { backoffDelay, type ClawbridgeError, type TimerHandle } from "../core/index.js";
import type { ResolvedClientOptions } from "./client-options.js";
import { badUrlError, handshakeTimeoutError, silentError, socketError } from "./link-errors.js";

/** What the link reports to the client that owns it. */
export interface LinkEvents {
  /** A frame arrived on the current attempt's socket. */
  frame(text: string, attempt: number): void;
  /** The current attempt's socket closed. */
  closed(code: number, reason: string): void;
  /** The attempt failed before the gateway said anything about it (bad URL, handshake too slow). */
  attemptFailed(error: ClawbridgeError, attempt: number): void;
  /** Worth remembering as the last error; the socket's close follows and decides what happens. */
  trouble(error: ClawbridgeError): void;
}

/**
 * One node's socket, attempt after attempt: opening it, the handshake deadline, the tick
 * watchdog and pings once connected, and the reconnect timer with its backoff.
 *
 * Every attempt has a number; events of an older attempt's socket are ignored, so a late
 * close can never schedule a second reconnect.
 */
export class GatewayLink {
  private socket: WebSocket | undefined;
  private current = 0;
  private connectTimer: TimerHandle | undefined;
  private reconnectTimer: TimerHandle | undefined;
  private watchdog: TimerHandle | undefined;
  private pinger: TimerHandle | undefined;
  private lastFrameAt = 0;
  private pingSentAt: number | undefined;
  /** Consecutive failed attempts: the backoff's exponent (back to 0 on `established`). */
  failures = 0;
  latencyMs: number | undefined;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly events: LinkEvents,
  ) {}

  /** The number of the attempt in progress (or of the last one). */
  get attempt(): number {
    return this.current;
  }

  /** The socket of `attempt`, when it is that attempt's and open. */
  openSocket(attempt = this.current): WebSocket | undefined {
    const socket = this.socket;
    return socket && socket.readyState === WebSocket.OPEN && attempt === this.current ? socket : undefined;
  }

  /** Starts a new attempt: a new socket, with the handshake deadline running. */
  open(): void {
    const attempt = ++this.current;
    const { node, url, clock } = this.options;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, {
        handshakeTimeout: this.options.connectTimeoutMs,
        maxPayload: this.options.maxPayloadBytes,
      });
    } catch (error) {
      this.events.attemptFailed(badUrlError(node, url, (error as Error).message), attempt);
      return;
    }
    this.socket = socket;
    const connectTimer = clock.setTimeout(() => {
      if (attempt !== this.current) return;
      this.events.attemptFailed(handshakeTimeoutError(node), attempt);
      socket.terminate();
    }, this.options.connectTimeoutMs);
    this.connectTimer = connectTimer;
    socket.on("message", (data) => {
      if (attempt !== this.current) return;
      this.lastFrameAt = clock.now();
      this.events.frame(String(data), attempt);
    });
    socket.on("pong", () => {
      if (this.pingSentAt !== undefined) this.latencyMs = clock.now() - this.pingSentAt;
    });
    socket.on("error", (error) => {
      if (attempt === this.current) this.events.trouble(socketError(node, url, error.message));
    });
    socket.on("close", (code, reason) => {
      clock.clearTimeout(connectTimer);
      if (attempt !== this.current) return;
      this.events.closed(code, String(reason));
    });
  }

  /** The handshake is done: no deadline any more; watch for ticks and measure latency. */
  established(tickIntervalMs: number): void {
    const { clock, log, node } = this.options;
    clock.clearTimeout(this.connectTimer);
    this.failures = 0;
    this.stopHeartbeat();
    const grace = tickIntervalMs * this.options.tickGraceFactor;
    this.watchdog = clock.setInterval(
      () => {
        const silentMs = clock.now() - this.lastFrameAt;
        if (silentMs <= grace) return;
        log.warn({ silentMs }, "no tick from the gateway: the link is dead; reconnecting");
        this.events.trouble(silentError(node, grace));
        this.socket?.terminate();
      },
      Math.max(50, Math.min(tickIntervalMs / 2, 5_000)),
    );
    this.watchdog.unref();
    const ping = () => {
      this.pingSentAt = clock.now();
      try {
        this.socket?.ping();
      } catch {
        // Closing; the close handler takes over.
      }
    };
    ping();
    this.pinger = clock.setInterval(ping, this.options.pingIntervalMs);
    this.pinger.unref();
  }

  stopHeartbeat(): void {
    this.options.clock.clearInterval(this.watchdog);
    this.options.clock.clearInterval(this.pinger);
    this.watchdog = undefined;
    this.pinger = undefined;
  }

  /** Cuts the socket at once; its close event follows (and is ignored once the attempt is over). */
  terminate(): void {
    this.socket?.terminate();
  }

  /**
   * Ends the current attempt (its socket's late events are ignored from now on) and starts
   * the next one after `delayMs`.
   */
  reconnectAfter(delayMs: number, connect: () => void): void {
    this.options.clock.clearTimeout(this.reconnectTimer);
    this.current++;
    this.stopHeartbeat();
    this.reconnectTimer = this.options.clock.setTimeout(connect, delayMs);
  }

  /** The delay before the next attempt after one more failure. */
  nextBackoff(): number {
    return backoffDelay(this.failures++, this.options.backoff);
  }

  /** Stops for good: no reconnect, no timers; returns the socket for `closeCleanly`. */
  halt(): WebSocket | undefined {
    const { clock } = this.options;
    clock.clearTimeout(this.reconnectTimer);
    clock.clearTimeout(this.connectTimer);
    this.stopHeartbeat();
    this.current++;
    const socket = this.socket;
    this.socket = undefined;
    return socket;
  }

  /** Closes `socket` with 1000, cutting it if the other side does not answer within the grace. */
  async closeCleanly(socket: WebSocket | undefined): Promise<void> {
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const { clock, closeGraceMs } = this.options;
    await new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => {
        socket.terminate();
        resolve();
      }, closeGraceMs);
      timer.unref();
      socket.once("close", () => {
        clock.clearTimeout(timer);
        resolve();
      });
      socket.close(1000, "client stopped");
    });
  }
}
