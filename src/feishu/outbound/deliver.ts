import { isClawbridgeError, type Clock, type Logger } from "../../core/index.js";
import { feishuCodeOf } from "../feishu-errors.js";
import type { AppGate } from "./app-gate.js";
import type { KeyPacer } from "./key-pacer.js";
import type { WindowEntry } from "./rate-window.js";
import type { OutboundRetryOptions } from "./options.js";
import type { OutboundCounters } from "./outbound-stats.js";
import { decideRetry } from "./retry-policy.js";
import type { SharedGate, SharedPass } from "./shared-gate.js";

/** What the queue shares with every delivery. */
export interface DeliveryEnv {
  clock: Clock;
  retry: OutboundRetryOptions;
  appGate: AppGate;
  /** The budgets shared with other replicas, taken after this replica's own (cluster mode). */
  shared?: SharedGate;
  /** Aborted by `close()` once the drain time is over. */
  signal: AbortSignal;
  counters: OutboundCounters;
  /** Calls on the wire; a box so deliveries can count in and out. */
  inFlight: { count: number };
  log: Logger;
}

/** One request to make until it succeeds or there is no point any more. */
export interface Delivery<T> {
  /** For the log: "send", "reply", "patch". */
  what: string;
  /** Log context (chat, message, uuid); never the content. */
  bindings: Record<string, unknown>;
  /** The chat's or message's own budget. */
  pacer: KeyPacer;
  /** Makes the call. A patch reads the newest card here, so a retry never sends a stale one. */
  call(): Promise<T>;
}

/** How a delivery ended; failures carry the error the caller is rejected with. */
export type DeliveryOutcome<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      /** `fatal`: Feishu (or the API) refused; `gave-up`: retried for `giveUpAfterMs`; `closed`: the queue closed. */
      reason: "fatal" | "gave-up" | "closed";
      error: unknown;
      attempts: number;
      /** For `closed`: the failure that was waiting for its retry when the queue closed. */
      lastError?: unknown;
    };

/**
 * Makes one call within the key's and the app's budget, retrying what is worth retrying:
 * rate limits after Feishu's reset (pausing the key, or the whole app for 99991400), 5xx
 * and network failures after a jittered backoff. The request is the same on every attempt
 * (the caller's uuid makes a repeated send harmless). Gives up once the next attempt would
 * start more than `giveUpAfterMs` after the first, logging at error level.
 */
export async function deliver<T>(delivery: Delivery<T>, env: DeliveryEnv): Promise<DeliveryOutcome<T>> {
  let firstAttemptAt: number | undefined;
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    // A retry must start within giveUpAfterMs of the first attempt, budget waits included.
    const deadline = firstAttemptAt === undefined ? undefined : firstAttemptAt + env.retry.giveUpAfterMs;
    let appEntry: WindowEntry;
    let shared: SharedPass | "late" | undefined;
    try {
      const inTime = await delivery.pacer.ready(env.signal, deadline);
      if (inTime) appEntry = await env.appGate.acquire(env.signal);
      else return giveUp(delivery, env, lastError, attempts, env.clock.now() - firstAttemptAt!);
    } catch (abortReason) {
      return { ok: false, reason: "closed", error: abortReason, attempts, lastError };
    }
    try {
      shared = await env.shared?.admit(delivery.pacer.shared, env.signal, deadline);
    } catch (abortReason) {
      env.appGate.settle(appEntry);
      return { ok: false, reason: "closed", error: abortReason, attempts, lastError };
    }
    const startedAt = env.clock.now();
    // The app-wide budgets are shared by every chat (and replica): their waits can overrun too.
    if (shared === "late" || (deadline !== undefined && startedAt > deadline)) {
      env.appGate.settle(appEntry);
      if (shared !== "late") env.shared?.release(shared);
      return giveUp(delivery, env, lastError, attempts, startedAt - firstAttemptAt!);
    }
    const keyEntry = delivery.pacer.record(startedAt);
    firstAttemptAt ??= startedAt;
    attempts++;
    env.inFlight.count++;
    let error: unknown;
    try {
      return { ok: true, value: await delivery.call() };
    } catch (caught) {
      error = caught;
      lastError = caught;
    } finally {
      env.inFlight.count--;
      // Feishu counted the call when it arrived, at the latest now.
      delivery.pacer.settle(keyEntry, env.clock.now());
      env.appGate.settle(appEntry);
      env.shared?.release(shared);
    }

    const decision = decideRetry(error, attempts - 1, env.retry);
    if (decision.kind === "fatal") return { ok: false, reason: "fatal", error, attempts };
    if (decision.rateLimited) env.counters.rateLimited++;
    const now = env.clock.now();
    const elapsedMs = now - firstAttemptAt;
    if (elapsedMs + decision.delayMs > env.retry.giveUpAfterMs)
      return giveUp(delivery, env, error, attempts, elapsedMs);
    if (env.signal.aborted)
      return { ok: false, reason: "closed", error: env.signal.reason, attempts, lastError };
    if (decision.appWide) env.appGate.pauseUntil(now + decision.delayMs);
    else delivery.pacer.pause(now + decision.delayMs);
    env.counters.retries++;
    env.log.warn(
      {
        ...delivery.bindings,
        code: isClawbridgeError(error) ? error.code : undefined,
        feishuCode: isClawbridgeError(error) ? feishuCodeOf(error) : undefined,
        attempt: attempts,
        retryInMs: decision.delayMs,
        appWide: decision.appWide || undefined,
      },
      decision.rateLimited
        ? `Feishu ${delivery.what} rate-limited; retrying in ${decision.delayMs} ms`
        : `Feishu ${delivery.what} failed; retrying in ${decision.delayMs} ms`,
    );
  }
}

function giveUp<T>(
  delivery: Delivery<T>,
  env: DeliveryEnv,
  error: unknown,
  attempts: number,
  elapsedMs: number,
): DeliveryOutcome<T> {
  env.log.error(
    { ...delivery.bindings, err: error, attempts, elapsedMs },
    `Feishu ${delivery.what} failed: gave up after ${attempts} attempts in ${elapsedMs} ms`,
  );
  return { ok: false, reason: "gave-up", error, attempts };
}
