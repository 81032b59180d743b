import type { Logger } from "../core/index.js";
import { parseSessionKey } from "../gateway/index.js";
import {
  DEFAULT_CHUNKS,
  DEFAULT_DELAY_MS,
  assistantMessage,
  finalBody,
  waitPayload,
  splitText,
} from "./fake-run-shapes.js";
import { FakeSessions } from "./fake-sessions.js";
import {
  okBody,
  type ReplyScript,
  type ResponseBody,
  type RunInfo,
  type RunStatus,
  type ScriptContext,
} from "./fake-types.js";

/** What the run engine needs from the gateway around it. */
export interface RunHost {
  /** Sends an event to every authenticated operator connection. */
  broadcast(event: "agent" | "chat", payload: Record<string, unknown>): void;
  /** True while the gateway is stalled: runs pause until it is not. */
  isStalled(): boolean;
  /** Resolves when the gateway stops stalling (or closes). */
  whenRunnable(): Promise<void>;
  /** The script for one run (the gateway's current script source). */
  script(ctx: ScriptContext): Promise<ReplyScript>;
  onRunStarted(run: RunInfo): void;
  logger: Logger;
}

export type Reply = (body: ResponseBody) => void;

export interface StartRun {
  runId: string;
  sessionKey?: string;
  agentId?: string;
  message: string;
  origin: RunInfo["origin"];
  connId?: string;
  /** Receives the final response of an `agent` run (the second answer on the same id). */
  reply?: Reply;
  /** A fixed script (sayInGroup); otherwise the host's script decides. */
  script?: ReplyScript;
  /** Called once the run exists and before any of its events (the `accepted` answer goes here). */
  accept?: (run: RunInfo) => void;
}

interface Run {
  info: RunInfo;
  ownerConnId?: string;
  reply?: Reply;
  done: Promise<void>;
  resolveDone: () => void;
  abortRequested: boolean;
  /** A `stall` script: ends when the socket that started it drops. */
  stalling: boolean;
  /** Interrupts the current delay (abort, close). */
  wake?: () => void;
}

/**
 * The fake's agent runs: scripts them, streams `agent`/`chat` events to every operator,
 * answers `agent` twice, dedups by idempotency key, honours aborts and keeps transcripts.
 */
export class RunEngine {
  readonly sessions = new FakeSessions();
  private readonly runs = new Map<string, Run>();
  private closed = false;

  constructor(private readonly host: RunHost) {}

  get(runId: string): RunInfo | undefined {
    const run = this.runs.get(runId);
    return run ? { ...run.info } : undefined;
  }

  list(): RunInfo[] {
    return [...this.runs.values()].map((run) => ({ ...run.info }));
  }

  runningCount(): number {
    let count = 0;
    for (const run of this.runs.values()) if (run.info.status === "running") count++;
    return count;
  }

  /** Resolves when the run has finished (immediately when unknown or finished). */
  async finished(runId: string): Promise<RunInfo | undefined> {
    await this.runs.get(runId)?.done;
    return this.get(runId);
  }

  /** An existing run for this key: `in_flight` while running, else its final answer again. */
  duplicate(runId: string, origin: RunInfo["origin"]): ResponseBody | undefined {
    const run = this.runs.get(runId);
    if (!run) return undefined;
    if (run.info.status === "running") return okBody({ runId, status: "in_flight" });
    return origin === "agent" ? finalBody(run.info) : okBody({ runId, status: run.info.status });
  }

  start(request: StartRun): RunInfo {
    const sessionKey = request.sessionKey ?? `agent:${request.agentId ?? "main"}:main`;
    const agentId = request.agentId ?? parseSessionKey(sessionKey).agentId ?? "main";
    let resolveDone = () => {};
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const run: Run = {
      info: {
        runId: request.runId,
        sessionKey,
        agentId,
        message: request.message,
        idempotencyKey: request.runId,
        status: "running",
        origin: request.origin,
        text: "",
        startedAt: Date.now(),
      },
      ownerConnId: request.connId,
      reply: request.reply,
      done,
      resolveDone,
      abortRequested: false,
      stalling: false,
    };
    this.runs.set(run.info.runId, run);
    if (request.origin !== "group") {
      this.sessions.append(sessionKey, {
        role: "user",
        content: [{ type: "text", text: request.message }],
        timestamp: run.info.startedAt,
      });
    }
    this.host.onRunStarted({ ...run.info });
    request.accept?.({ ...run.info });
    this.execute(run, request.script).catch((error: unknown) => {
      this.host.logger.error({ err: error, runId: run.info.runId }, "fake run crashed");
      if (run.info.status === "running") this.finish(run, "error", String(error));
    });
    return { ...run.info };
  }

  /**
   * The `agent.wait` answer: waits up to `timeoutMs` for the run to finish. As openclaw
   * 2026.9.6 does, a run it does not know is waited for just the same and answered
   * `timeout` — only `chat.history` tells a lost run from a long one.
   */
  async wait(runId: string, timeoutMs: number): Promise<ResponseBody> {
    const run = this.runs.get(runId);
    if (!run) {
      await new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
      return okBody({ runId, status: "timeout" });
    }
    if (run.info.status === "running") {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref(); // a pending wait must not keep a closed gateway's process alive
      });
      await Promise.race([run.done, timeout]);
      clearTimeout(timer);
    }
    if (run.info.status === "running") return okBody({ runId, status: "timeout" });
    return okBody(waitPayload(run.info));
  }

  /** The session's running run, as `chat.history` reports it (`inFlightRun`), if any. */
  runningIn(sessionKey: string): RunInfo | undefined {
    for (const run of this.runs.values()) {
      if (run.info.sessionKey === sessionKey && run.info.status === "running") return { ...run.info };
    }
    return undefined;
  }

  /** Aborts the running runs of a session (only `runId` when given); returns their ids. */
  abort(sessionKey: string, runId?: string): string[] {
    const aborted: string[] = [];
    for (const run of this.runs.values()) {
      if (run.info.status !== "running" || run.abortRequested || run.info.sessionKey !== sessionKey) continue;
      if (runId !== undefined && run.info.runId !== runId) continue;
      this.requestAbort(run);
      aborted.push(run.info.runId);
    }
    return aborted;
  }

  /** A socket dropped: `stall` runs it started end as aborted; other runs carry on server-side. */
  connectionClosed(connId: string): void {
    for (const run of this.runs.values()) {
      if (run.ownerConnId === connId && run.stalling && run.info.status === "running") this.requestAbort(run);
    }
  }

  /** Stops every run without further frames (the gateway is closing). */
  close(): void {
    this.closed = true;
    for (const run of this.runs.values()) run.wake?.();
  }

  private requestAbort(run: Run): void {
    run.abortRequested = true;
    run.wake?.();
  }

  private stopped(run: Run): boolean {
    return run.abortRequested || this.closed;
  }

  /** Waits `ms` (forever when undefined) or until the run is woken. */
  private sleep(run: Run, ms?: number): Promise<void> {
    if (this.stopped(run)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      run.wake = done;
    });
  }

  /** While the gateway is stalled the run makes no progress (a hung gateway sends nothing). */
  private async pause(run: Run): Promise<void> {
    while (this.host.isStalled() && !this.stopped(run)) {
      await Promise.race([this.host.whenRunnable(), this.sleep(run)]);
    }
  }

  private async execute(run: Run, fixed?: ReplyScript): Promise<void> {
    await this.pause(run);
    let script: ReplyScript;
    try {
      script = fixed ?? (await this.host.script(this.context(run)));
    } catch (error) {
      script = { kind: "fail", message: error instanceof Error ? error.message : String(error) };
    }
    if (this.closed) return this.finish(run, "aborted");
    this.emitAgent(run, "lifecycle", { phase: "start" });
    if (this.stopped(run)) return this.finish(run, "aborted");
    if (script.kind === "fail") return this.finish(run, "error", script.message);
    if (script.kind === "stall") {
      run.stalling = true;
      while (!this.stopped(run)) await this.sleep(run);
      return this.finish(run, "aborted");
    }
    const text = script.kind === "echo" ? `echo: ${run.info.message}` : script.text;
    const pieces = splitText(text, script.chunks ?? DEFAULT_CHUNKS);
    const delayMs = script.delayMs ?? DEFAULT_DELAY_MS;
    for (const [index, piece] of pieces.entries()) {
      if (index > 0) await this.sleep(run, delayMs);
      await this.pause(run);
      if (this.stopped(run)) break;
      run.info.text += piece;
      this.emitAgent(run, "assistant", { text: run.info.text, delta: piece });
      this.emitChat(run, "delta", { message: assistantMessage(run.info.text) });
    }
    this.finish(run, this.stopped(run) ? "aborted" : "ok");
  }

  private finish(run: Run, status: Exclude<RunStatus, "running">, error?: string): void {
    const info = run.info;
    info.status = status;
    info.endedAt = Date.now();
    if (error !== undefined) info.error = error;
    if (!this.closed) {
      if (status === "ok") {
        this.emitAgent(run, "lifecycle", { phase: "end" });
        const message = assistantMessage(info.text);
        this.sessions.append(info.sessionKey, { ...message, __openclaw: { runId: info.runId } });
        this.emitChat(run, "final", { message });
      } else if (status === "error") {
        this.emitAgent(run, "lifecycle", { phase: "error", error });
        this.emitChat(run, "error", { errorMessage: error });
      } else {
        this.emitAgent(run, "lifecycle", { phase: "end", aborted: true });
        const message = info.text ? assistantMessage(info.text) : undefined;
        if (message) this.sessions.append(info.sessionKey, { ...message, __openclaw: { runId: info.runId } });
        this.emitChat(run, "aborted", message ? { message } : {});
      }
      if (info.origin === "agent") run.reply?.(finalBody(run.info));
    }
    this.host.logger.debug({ runId: info.runId, status }, "fake run finished");
    run.resolveDone();
  }

  private context(run: Run): ScriptContext {
    const { message, sessionKey, agentId, runId } = run.info;
    return { message, sessionKey, agentId, runId };
  }

  private emitAgent(run: Run, stream: string, data: Record<string, unknown>): void {
    const { runId, sessionKey } = run.info;
    this.host.broadcast("agent", { runId, sessionKey, stream, data });
  }

  private emitChat(run: Run, state: string, rest: Record<string, unknown>): void {
    const { runId, sessionKey } = run.info;
    this.host.broadcast("chat", { sessionKey, runId, state, ...rest });
  }
}
