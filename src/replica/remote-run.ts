import type { RunEvent, RunHandle, RunResult } from "../gateway/index.js";
import type { ReplyEntry } from "./gateway-wire.js";
import { errorFromWire } from "./wire-errors.js";

/**
 * A run on a gateway another replica hosts, rebuilt from its reply stream.
 *
 * After a failover the new host reports the run again from where it finds it: `accepted`
 * once more, and a first delta holding all the text so far. Those are not numbered by the
 * host (a counter would start over on the new host); they are placed by the run's own text
 * instead: a delta entry says at which length of the text it starts, so the reader rebuilds
 * the whole text and, exactly as the local client does with the two streams a gateway sends,
 * reports only what is new. `accepted` is reported once, a lifecycle phase once per text
 * length it came at, and the handle settles once.
 */
export class RemoteRun implements RunHandle {
  readonly result: Promise<RunResult>;
  settled = false;
  /** Set by the first entry: the request reached a host. */
  answered = false;
  private text = "";
  private accepted = false;
  private readonly phases = new Set<string>();
  private readonly listeners = new Set<(event: RunEvent) => void>();
  private resolveResult!: (result: RunResult) => void;
  private rejectResult!: (error: Error) => void;
  private readonly settledHooks: (() => void)[] = [];

  constructor(
    readonly runId: string,
    readonly sessionKey: string,
    private readonly aborter: (run: RemoteRun) => Promise<void>,
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

  abort(): Promise<void> {
    if (this.settled) return Promise.resolve();
    return this.aborter(this);
  }

  /** Called once when the run settles (timers, the reader's subscription). */
  onSettled(hook: () => void): void {
    this.settledHooks.push(hook);
  }

  /** One entry of the reply stream. */
  apply(entry: ReplyEntry): void {
    this.answered = true;
    switch (entry.kind) {
      case "accepted":
        if (this.accepted) return;
        this.accepted = true;
        return this.emit({ kind: "accepted", runId: this.runId });
      case "lifecycle": {
        const key = `${entry.at}:${entry.phase}`;
        if (this.phases.has(key)) return;
        this.phases.add(key);
        return this.emit({ kind: "lifecycle", phase: entry.phase });
      }
      case "delta":
        // Past the text we have (a trimmed stream lost entries): appended, the best we can do.
        return this.progress(
          entry.at <= this.text.length ? this.text.slice(0, entry.at) + entry.delta : this.text + entry.delta,
        );
      case "result": {
        const { result } = entry;
        if (result.text !== "") this.progress(result.text);
        return this.settle(() => this.resolveResult({ ...result, runId: this.runId }));
      }
      case "error":
        return this.fail(errorFromWire(entry.error));
      case "value":
        return; // not an answer a run gets
    }
  }

  fail(error: Error): void {
    this.settle(() => this.rejectResult(error));
  }

  /** The run's whole text so far, from any host: reports the new part, as `AgentRun.progress` does. */
  private progress(cumulative: string): void {
    if (this.settled) return;
    if (cumulative.length > this.text.length && cumulative.startsWith(this.text)) {
      const delta = cumulative.slice(this.text.length);
      this.text = cumulative;
      return this.emit({ kind: "delta", delta, text: cumulative });
    }
    if (cumulative.length > 0 && !cumulative.startsWith(this.text) && !this.text.startsWith(cumulative)) {
      // The text was rewritten (a retry inside the run): reported whole.
      this.text = cumulative;
      this.emit({ kind: "delta", delta: cumulative, text: cumulative });
    }
  }

  private emit(event: RunEvent): void {
    if (this.settled) return;
    for (const listener of this.listeners) listener(event);
  }

  private settle(settle: () => void): void {
    if (this.settled) return;
    this.settled = true;
    settle();
    this.listeners.clear();
    for (const hook of this.settledHooks.splice(0)) hook();
  }
}
