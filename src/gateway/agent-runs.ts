// Longer than our usual file: starting, re-attaching, waiting on and settling a run share the
// run table and the link, and the wait loop settles through the same path as the live events.
import { ClawbridgeError, isClawbridgeError, type Clock, type Logger } from "../core/index.js";
import {
  messageText,
  type AgentEvent,
  type ChatEvent,
  type GatewayErrorShape,
  type ResponseFrame,
} from "./frames.js";
import { gatewayError } from "./gateway-errors.js";
import { AgentRun } from "./run.js";
import { messageRunId, sightRun } from "./run-lookup.js";
import { runFailedBecauseError, runFailedError, runLostError, runTimeoutError } from "./run-errors.js";
import type { AttachRunRequest, RunAgentRequest, RunHandle } from "./types.js";

/** What the runs need of the connection. */
export interface RunLink {
  readonly node: string;
  ready(timeoutMs: number): Promise<void>;
  /** Sends now on the current socket; an `agent` request names its run so both answers reach it. */
  send(method: string, params: unknown, timeoutMs: number, run?: AgentRun): Promise<unknown>;
  /** A request that needs the link up (fails at once otherwise). */
  request(method: string, params: unknown): Promise<unknown>;
  /** Drops the pending entry of a request whose answers are all in. */
  forget(requestId: string): void;
  requestTimeoutMs: number;
  connectWaitMs: number;
  log: Logger;
  clock: Clock;
  /** Takes configured secrets out of the agents' text (see `AgentRun`). */
  scrub?: (text: string) => string;
}

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
const DEFAULT_RUN_TIMEOUT_MS = 30 * 60_000;
const LINK_GONE = new Set(["CB_GATEWAY_CLOSED", "CB_GATEWAY_UNREACHABLE"]);

function asError(error: unknown, code: "CB_GATEWAY_RUN_FAILED" | "CB_GATEWAY_UNREACHABLE"): ClawbridgeError {
  return isClawbridgeError(error) ? error : new ClawbridgeError(code, String(error));
}

/** The final text of an `agent` answer (`result.payloads`) or an `agent.wait` answer (`terminalReply`). */
function payloadText(payload: unknown): string {
  const value = (payload ?? {}) as {
    result?: { payloads?: { text?: string }[] };
    terminalReply?: { text?: unknown };
  };
  const payloads = value.result?.payloads;
  if (payloads) return payloads.map((p) => p.text ?? "").join("");
  return typeof value.terminalReply?.text === "string" ? value.terminalReply.text : "";
}

/** The first `agent.wait` is short, so a run the gateway lost is found out within a second or two. */
const FIRST_WAIT_MS = 1_000;
const WAIT_MS = 25_000;

/**
 * The agent runs of one gateway client. A run is sent once; if the link drops before the
 * gateway accepted it, it is sent again (the idempotency key makes that safe); if after, it
 * is awaited with `agent.wait`. Every run has a deadline, so none hangs.
 */
export class AgentRuns {
  private readonly runs = new Map<string, AgentRun>();
  /** Runs not settled yet: counted, not looked for, as finished runs stay in `runs` a minute. */
  private unsettled = 0;

  constructor(private readonly link: RunLink) {}

  get(runId: string): AgentRun | undefined {
    return this.runs.get(runId);
  }

  /**
   * Runs not settled yet. Read on every health check, and the relay checks a node's health
   * before every delivery: counting through the map cost a pass over every run of the last
   * minute (thousands under load) each time.
   */
  running(): number {
    return this.unsettled;
  }

  start(request: RunAgentRequest): RunHandle {
    const existing = this.runs.get(request.idempotencyKey);
    if (existing) return existing; // the same key never starts a second run
    const timeoutMs = request.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const run = this.track(request.idempotencyKey, request.sessionKey, timeoutMs);
    void this.begin(run, request, timeoutMs);
    return run;
  }

  /**
   * A run the gateway accepted earlier, maybe from a previous process: awaited with
   * `agent.wait` once the link is up, its live events routed here by run id. The handle
   * this client already tracks, when it does. The deadline works as for `start`.
   */
  attach(request: AttachRunRequest): RunHandle {
    const existing = this.runs.get(request.runId);
    if (existing) return existing;
    const timeoutMs = request.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const run = this.track(request.runId, request.sessionKey, timeoutMs);
    void this.reattach(run, timeoutMs);
    return run;
  }

  /** A new run in the map, with its deadline (abort, then the timeout error). */
  private track(runId: string, sessionKey: string, timeoutMs: number): AgentRun {
    const { clock } = this.link;
    const run = new AgentRun(
      runId,
      sessionKey,
      clock.now() + timeoutMs,
      (r) => this.abort(r),
      this.link.scrub,
    );
    this.runs.set(run.runId, run);
    this.unsettled++;
    const deadline = clock.setTimeout(() => {
      if (run.settled) return;
      void this.abort(run).catch(() => undefined);
      run.fail(runTimeoutError(this.link.node, run.runId, timeoutMs));
    }, timeoutMs);
    deadline.unref();
    const forget = () => this.runs.get(run.runId) === run && this.runs.delete(run.runId);
    run.result.then(
      () => {
        this.unsettled--;
        clock.clearTimeout(deadline);
        // Keep finished runs briefly so a repeated key still returns this handle.
        clock.setTimeout(forget, 60_000).unref();
      },
      () => {
        this.unsettled--;
        clock.clearTimeout(deadline);
        // A failed handle must not answer the caller's retry with the same failure: the retry
        // asks the gateway again, whose idempotency key keeps it from running twice.
        forget();
      },
    );
    return run;
  }

  /** Waits for the link, then for the run. Marked accepted only now, so a reconnect meanwhile does not wait twice. */
  private async reattach(run: AgentRun, timeoutMs: number): Promise<void> {
    try {
      await this.link.ready(Math.min(timeoutMs, this.link.connectWaitMs));
    } catch (error) {
      run.fail(asError(error, "CB_GATEWAY_UNREACHABLE"));
      return;
    }
    if (run.settled) return;
    run.accepted = true;
    await this.wait(run);
  }

  private async begin(run: AgentRun, request: RunAgentRequest, timeoutMs: number): Promise<void> {
    try {
      await this.link.ready(Math.min(timeoutMs, this.link.connectWaitMs));
    } catch (error) {
      run.fail(asError(error, "CB_GATEWAY_UNREACHABLE"));
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
    this.send(run);
  }

  /** Sends (or, after a reconnect, re-sends) the `agent` request. */
  private send(run: AgentRun): void {
    run.detached = false;
    this.link.send("agent", run.params, this.link.requestTimeoutMs, run).catch((error: unknown) => {
      if (isClawbridgeError(error) && LINK_GONE.has(error.code)) {
        run.detached = true; // the link went away: sent again after the reconnect
        return;
      }
      run.fail(asError(error, "CB_GATEWAY_RUN_FAILED"));
    });
  }

  /** The link dropped: every unfinished run waits for the next connection. */
  detachAll(): void {
    for (const run of this.runs.values()) if (!run.settled) run.detached = true;
  }

  /** After a reconnect: runs the gateway accepted are awaited; the others are sent again. */
  resume(): void {
    for (const run of this.runs.values()) {
      if (run.abortWanted && !run.settled) {
        void this.abort(run).catch((error: unknown) =>
          this.link.log.warn({ err: error, runId: run.runId }, "could not abort the run after the reconnect"),
        );
      }
      if (!run.detached || run.settled) continue;
      if (run.accepted) void this.wait(run);
      else if (run.params) this.send(run);
    }
  }

  failAll(error: ClawbridgeError): void {
    for (const run of this.runs.values()) run.fail(error);
    this.runs.clear();
  }

  /** Both answers of `agent`: accepted (or in_flight), then the final result. */
  onResponse(frame: ResponseFrame, run: AgentRun, requestId: string): void {
    if (!frame.ok) {
      this.link.forget(requestId);
      run.fail(gatewayError(this.link.node, frame.error as GatewayErrorShape, { method: "agent" }));
      return;
    }
    const payload = (frame.payload ?? {}) as { status?: string };
    if (payload.status === "accepted" || payload.status === "in_flight") {
      run.accepted = true;
      run.emit({ kind: "accepted", runId: run.runId });
      if (payload.status === "in_flight") {
        // Someone (maybe our previous connection) already runs this key: wait for it.
        this.link.forget(requestId);
        void this.wait(run);
      }
      return;
    }
    this.link.forget(requestId);
    this.settle(run, frame.payload);
  }

  onChat(event: ChatEvent, text: string): void {
    const run = event.runId ? this.runs.get(event.runId) : undefined;
    if (!run) return;
    if (event.state === "delta" || event.state === "final") run.progress(text);
    else if (event.state === "aborted") run.finish("aborted");
    else if (event.state === "error") run.fail(runFailedError(this.link.node, run.runId));
  }

  onAgent(event: AgentEvent): void {
    const run = this.runs.get(event.runId);
    if (!run) return;
    const data = event.data ?? {};
    if (event.stream === "lifecycle" && typeof data.phase === "string")
      run.emit({ kind: "lifecycle", phase: data.phase });
    if (event.stream === "assistant" && typeof data.text === "string") run.progress(data.text);
  }

  /** A final `agent`/`agent.wait` payload → the run's result. */
  private settle(run: AgentRun, payload: unknown): void {
    const value = (payload ?? {}) as {
      status?: string;
      summary?: string;
      error?: unknown;
      stopReason?: unknown;
    };
    const text = payloadText(payload);
    const status = String(value.status ?? "ok");
    // openclaw 2026.9.6 answers `agent.wait` for a run stopped by `chat.abort` with error + stopReason "rpc".
    const abortedByCall = status === "error" && value.stopReason === "rpc";
    if (status === "aborted" || status === "cancelled" || status === "canceled" || abortedByCall)
      return run.finish("aborted", text);
    if (status === "error" || status === "failed") {
      const reason = typeof value.error === "string" ? value.error : value.summary;
      return run.fail(runFailedBecauseError(this.link.node, run.runId, reason));
    }
    run.finish("ok", text);
  }

  /**
   * Awaits a run the gateway already has (after a reconnect, an `in_flight` answer, or a
   * restart of ours). `agent.wait` answers `timeout` alike for a run still going and for one
   * the gateway lost, so each `timeout` is followed by a look at the session's history.
   */
  private async wait(run: AgentRun): Promise<void> {
    run.detached = false;
    const { clock } = this.link;
    let nextWaitMs = FIRST_WAIT_MS;
    while (!run.settled && clock.now() < run.deadline) {
      const waitMs = Math.min(run.deadline - clock.now(), nextWaitMs);
      nextWaitMs = WAIT_MS;
      try {
        const result = (await this.link.send(
          "agent.wait",
          { runId: run.runId, timeoutMs: waitMs },
          waitMs + 5_000,
        )) as {
          status?: string;
        };
        if (run.settled) return;
        if (result?.status === "timeout") {
          await this.sight(run);
          continue;
        }
        if (result?.status && !FINAL_STATES.has(result.status)) continue; // queued ("pending")
        if (payloadText(result) === "" && run.text === "") await this.fillFromHistory(run);
        this.settle(run, result);
        return;
      } catch (error) {
        if (isClawbridgeError(error) && LINK_GONE.has(error.code)) {
          run.detached = true; // resumed after the next reconnect
          return;
        }
        if (
          isClawbridgeError(error, "CB_GATEWAY_REQUEST_FAILED") &&
          error.details.gatewayCode === "NOT_FOUND"
        ) {
          run.fail(runLostError(this.link.node, run.runId));
          return;
        }
        if (isClawbridgeError(error) && error.code === "CB_GATEWAY_TIMEOUT") continue;
        run.fail(asError(error, "CB_GATEWAY_RUN_FAILED"));
        return;
      }
    }
  }

  /**
   * The session's history on the run: still going (its text so far shown, which a restarted
   * bridge had lost), finished while nobody waited, or gone. When the history cannot be read
   * the run is simply waited on.
   */
  private async sight(run: AgentRun): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.link.send("chat.history", { sessionKey: run.sessionKey, limit: 20 }, 10_000);
    } catch {
      return;
    }
    if (run.settled) return;
    const seen = sightRun(answer, run.runId);
    if (seen.kind === "running" && seen.text) run.progress(seen.text);
    else if (seen.kind === "finished") run.finish("ok", seen.text);
    else if (seen.kind === "gone") run.fail(runLostError(this.link.node, run.runId));
  }

  /** The final text from the session's history, when the wait result carries none. */
  private async fillFromHistory(run: AgentRun): Promise<void> {
    try {
      const history = (await this.link.send(
        "chat.history",
        { sessionKey: run.sessionKey, limit: 20 },
        10_000,
      )) as {
        messages?: { role?: string }[];
      };
      const mine = [...(history.messages ?? [])].reverse().find((m) => {
        const runId = messageRunId(m);
        return m.role === "assistant" && (runId === undefined || runId === run.runId);
      });
      if (mine) run.progress(messageText(mine));
    } catch {
      // The result stands without text; the events may have carried it.
    }
  }

  private async abort(run: AgentRun): Promise<void> {
    try {
      await this.link.request("chat.abort", { sessionKey: run.sessionKey, runId: run.runId });
      run.abortWanted = false;
    } catch (error) {
      // A cancelled task must not run on at the node because the link was down at the time.
      if (isClawbridgeError(error) && LINK_GONE.has(error.code) && !run.settled) run.abortWanted = true;
      throw error;
    }
  }
}
