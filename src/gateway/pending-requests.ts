import type WebSocket from "ws";
import type { ClawbridgeError, TimerHandle } from "../core/index.js";
import type { ResolvedClientOptions } from "./client-options.js";
import type { GatewayErrorShape, ResponseFrame } from "./frames.js";
import { gatewayError } from "./gateway-errors.js";
import { requestTimeoutError, sendFailedError } from "./link-errors.js";
import type { AgentRun } from "./run.js";

interface Pending {
  method: string;
  resolve: (payload: unknown) => void;
  reject: (error: ClawbridgeError) => void;
  timer?: TimerHandle;
  /** `agent` answers twice: the run it belongs to takes both answers. */
  run?: AgentRun;
}

/** Where the answers of an `agent` request go (both of them), instead of settling the request. */
export type RunResponseHandler = (frame: ResponseFrame, run: AgentRun, requestId: string) => void;

/**
 * Requests in flight on one client: each gets an id, a timeout and one settlement from its
 * answer; `agent` requests hand both their answers to their run. Requests made in the same
 * tick leave in one write.
 */
export class PendingRequests {
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  /** The socket is corked until the end of this tick (see `corkForTick`). */
  private corked = false;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly onRunResponse: RunResponseHandler,
  ) {}

  /** Sends `method` on `socket`; settles with the answer, or rejects on a refusal, a timeout or a failed write. */
  send(
    socket: WebSocket,
    method: string,
    params: unknown,
    timeoutMs: number,
    run?: AgentRun,
  ): Promise<unknown> {
    const { node, clock } = this.options;
    const id = `cb-${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const pending: Pending = { method, resolve, reject, run };
      if (run) run.requestId = id;
      pending.timer = clock.setTimeout(() => {
        this.pending.delete(id);
        reject(requestTimeoutError(node, method, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, pending);
      this.corkForTick(socket);
      socket.send(JSON.stringify({ type: "req", id, method, params }), (error) => {
        if (!error) return;
        clock.clearTimeout(pending.timer);
        this.pending.delete(id);
        reject(sendFailedError(node, method, error.message));
      });
    });
  }

  onResponse(frame: ResponseFrame): void {
    const pending = this.pending.get(frame.id);
    if (!pending) return;
    const { clock, node } = this.options;
    if (pending.run) {
      // The run's deadline governs from the first answer on, not the request timeout.
      clock.clearTimeout(pending.timer);
      return this.onRunResponse(frame, pending.run, frame.id);
    }
    this.pending.delete(frame.id);
    clock.clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.payload);
    else pending.reject(gatewayError(node, frame.error as GatewayErrorShape, { method: pending.method }));
  }

  /** Drops the entry of a request whose answers are all in (an `agent` request's second answer). */
  forget(requestId: string): void {
    const pending = this.pending.get(requestId);
    this.pending.delete(requestId);
    pending?.resolve(undefined);
  }

  /** The socket is gone: every request fails with `error`, except runs' requests (their runs resume). */
  failAll(error: ClawbridgeError): void {
    for (const [id, pending] of this.pending) {
      this.options.clock.clearTimeout(pending.timer);
      this.pending.delete(id);
      if (!pending.run) pending.reject(error);
    }
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
}
