import type { Clock, Logger } from "../../core/index.js";
import { abortableSleep } from "./abortable-sleep.js";
import type { OutboundCounters } from "./outbound-stats.js";
import type { SharedLimits, SharedLimitTake, SharedLimitWindow } from "./shared-limits.js";

/** While the shared store fails, calls go by this replica's limits; it is tried again this often. */
export const SHARED_RETRY_MS = 5_000;

/** A call counted in the shared windows: settle it when its answer comes. */
export interface SharedPass {
  token: string;
  windows: readonly SharedLimitWindow[];
}

/**
 * The queue's side of `SharedLimits`: every call takes the app-wide window and its chat's
 * or message's window there too, after this replica's own budget admitted it (the local
 * limiter stays: it orders and paces this replica, the shared one keeps the replicas
 * together within Feishu's limits).
 *
 * A failing store must not stop chat posts: the call goes by the local limits, one warning
 * says so, and the store is asked again after `SHARED_RETRY_MS`; its recovery is logged.
 */
export class SharedGate {
  private downSince: number | undefined;
  private retryAt = 0;

  constructor(
    private readonly limits: SharedLimits,
    private readonly app: SharedLimitWindow,
    private readonly clock: Clock,
    private readonly counters: OutboundCounters,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves with the pass once every shared window admitted the call, `undefined` when it
   * goes by the local limits only (the store is failing), or `"late"` when the shared budget
   * would not admit it by `deadline`. Rejects with the abort reason.
   */
  async admit(
    key: SharedLimitWindow,
    signal: AbortSignal,
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<SharedPass | "late" | undefined> {
    const windows = [this.app, key];
    let waited = false;
    for (;;) {
      if (signal.aborted) throw signal.reason as Error;
      if (this.downSince !== undefined && this.clock.now() < this.retryAt) return this.bypass();
      let taken: SharedLimitTake;
      try {
        taken = await this.take(windows, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason as Error;
        this.failed(error);
        return this.bypass();
      }
      this.reachable();
      if (taken.ok) return { token: taken.token, windows };
      if (!waited) this.counters.sharedLimitWaits++;
      waited = true;
      if (this.clock.now() + taken.waitMs > deadline) return "late";
      await abortableSleep(taken.waitMs, signal);
    }
  }

  /** The call's answer came; does not wait for the store (the caller's result must not). */
  release(pass: SharedPass | undefined): void {
    if (!pass) return;
    this.limits.settle(pass.token, pass.windows).catch((error: unknown) => this.failed(error));
  }

  private bypass(): undefined {
    this.counters.sharedLimitBypassed++;
    return undefined;
  }

  // Not abortable on the store's side: a take that succeeds after the abort is settled at once.
  private take(windows: readonly SharedLimitWindow[], signal: AbortSignal): Promise<SharedLimitTake> {
    const taking = this.limits.take(windows);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason as Error);
        taking
          .then(
            (taken) => (taken.ok ? this.limits.settle(taken.token, windows) : undefined),
            () => undefined,
          )
          .catch(() => undefined);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      taking.then(
        (taken) => {
          signal.removeEventListener("abort", onAbort);
          resolve(taken);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error as Error);
        },
      );
    });
  }

  private failed(error: unknown): void {
    const now = this.clock.now();
    this.retryAt = now + SHARED_RETRY_MS;
    if (this.downSince !== undefined) return; // said once per outage
    this.downSince = now;
    this.log.warn(
      { err: { message: (error as Error)?.message }, retryInMs: SHARED_RETRY_MS },
      "shared Feishu rate limits unavailable; pacing by this replica's own limits until they are back",
    );
  }

  private reachable(): void {
    if (this.downSince === undefined) return;
    this.log.info(
      { unavailableMs: this.clock.now() - this.downSince },
      "shared Feishu rate limits reachable again",
    );
    this.downSince = undefined;
  }
}
