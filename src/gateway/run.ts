import type { ClawbridgeError } from "../core/index.js";
import type { RunEvent, RunHandle, RunResult } from "./types.js";

/**
 * One agent run as the client tracks it: events in order, text so far, and one settlement.
 * Deltas are derived from cumulative text, so the same progress seen on two streams
 * (`agent` assistant and `chat` delta) is reported once.
 */
export class AgentRun implements RunHandle {
  readonly result: Promise<RunResult>;
  text = "";
  settled = false;
  /** Set while the socket that carried the `agent` request is gone: resume with `agent.wait`. */
  detached = false;
  /** An abort that could not be sent (the link was down): sent again after the reconnect. */
  abortWanted = false;
  /** The gateway accepted the `agent` request (so a resume waits rather than sends again). */
  accepted = false;
  /** The `agent` params, kept to send again if the link dropped before the gateway accepted. */
  params: Record<string, unknown> | undefined;
  /** Id of the `agent` request in flight, whose second answer ends the run. */
  requestId: string | undefined;
  private readonly listeners = new Set<(event: RunEvent) => void>();
  private resolveResult!: (result: RunResult) => void;
  private rejectResult!: (error: Error) => void;

  constructor(
    readonly runId: string,
    readonly sessionKey: string,
    readonly deadline: number,
    private readonly aborter: (run: AgentRun) => Promise<void>,
    /** Applied to every text of the run: an agent quoting a configured secret must not pass it on. */
    private readonly scrub: (text: string) => string = (text) => text,
  ) {
    this.result = new Promise<RunResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A caller that only streams must not get an unhandled rejection.
    this.result.catch(() => undefined);
  }

  onEvent(listener: (event: RunEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: RunEvent): void {
    if (this.settled) return;
    for (const listener of this.listeners) listener(event);
  }

  /** Cumulative text from any stream; emits the new part, if any. */
  progress(raw: string): void {
    const cumulative = this.scrub(raw);
    if (this.settled || cumulative.length <= this.text.length || !cumulative.startsWith(this.text)) {
      if (
        !this.settled &&
        cumulative.length > 0 &&
        !cumulative.startsWith(this.text) &&
        !this.text.startsWith(cumulative)
      ) {
        // The text was rewritten (a retry inside the run): report it whole.
        this.text = cumulative;
        this.emit({ kind: "delta", delta: cumulative, text: cumulative });
      }
      return;
    }
    const delta = cumulative.slice(this.text.length);
    this.text = cumulative;
    this.emit({ kind: "delta", delta, text: cumulative });
  }

  finish(status: RunResult["status"], rawFinal?: string): void {
    if (this.settled) return;
    const finalText = rawFinal === undefined ? undefined : this.scrub(rawFinal);
    if (finalText !== undefined && finalText !== "") this.progress(finalText);
    this.settled = true;
    this.resolveResult({
      runId: this.runId,
      status,
      text: finalText && finalText !== "" ? finalText : this.text,
    });
    this.release();
  }

  fail(error: ClawbridgeError): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectResult(error);
    this.release();
  }

  /**
   * A settled run stays in its client's map for a while (a repeated key gets the same
   * handle); what only a live run needs goes now, so thousands of finished runs hold little.
   */
  private release(): void {
    this.listeners.clear();
    this.params = undefined;
  }

  abort(): Promise<void> {
    if (this.settled) return Promise.resolve();
    return this.aborter(this);
  }
}
