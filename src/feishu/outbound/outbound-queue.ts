import { feishuMessages } from "../messages.js";
import { setMaxListeners } from "node:events";
import { ClawbridgeError, type Logger } from "../../core/index.js";
import type { CardJson, OutboundContent } from "../types.js";
import { unrefSleep } from "./abortable-sleep.js";
import { AppGate } from "./app-gate.js";
import { deferred, type Deferred } from "./deferred.js";
import type { DeliveryEnv } from "./deliver.js";
import type { KeyPacer } from "./key-pacer.js";
import {
  resolveOutboundOptions,
  type OutboundQueueOptions,
  type ResolvedOutboundOptions,
} from "./options.js";
import { emptyCounters, type OutboundStats } from "./outbound-stats.js";
import type {
  OutboundCloseOptions,
  OutboundCloseResult,
  OutboundPatchOptions,
  OutboundSendRequest,
  OutboundSendResult,
} from "./outbound-types.js";
import { PatchSlot } from "./patch-slot.js";
import { queueClosedError, type QueueContext } from "./queue-context.js";
import { SendLane } from "./send-lane.js";
import { SharedGate } from "./shared-gate.js";
import { planSend, type SendPlan } from "./send-plan.js";
import { sendUuid } from "./send-uuid.js";

const DEFAULT_DRAIN_MS = 10_000;
// After the drain, calls already on the wire cannot be taken back; wait this long for
// their answers so their callers hear the truth (posted or not) rather than "closed".
const IN_FLIGHT_GRACE_MS = 5_000;

interface Forgettable {
  readonly idle: boolean;
  readonly pacer: KeyPacer;
  forgetTimer: NodeJS.Timeout | undefined;
}

/**
 * Every message and card update the bridge sends to Feishu goes through here (see
 * ARCHITECTURE.md, "Feishu edge"):
 *
 * - `send` posts in enqueue order per chat, paced within `perChatQps` and `appQps`,
 *   with a uuid kept across retries so Feishu never posts twice; retries 429s after
 *   Feishu's reset and 5xx/network failures with jittered backoff; falls back from a
 *   rejected or too-large card to its text; cuts over-size text with a pointer notice.
 * - `patch` updates live cards, coalescing bursts so the newest card always wins.
 * - with `sharedLimits` (several replicas), every call also takes the same app, chat and
 *   message windows in the shared store, falling back to the local ones while it fails.
 * - `flush` / `close` for shutdown; `stats` for metrics.
 *
 * Nothing is dropped silently: every call's promise settles, and every failure is logged.
 */
export class OutboundQueue {
  private readonly options: ResolvedOutboundOptions;
  private readonly log: Logger;
  private readonly context: QueueContext;
  private readonly abort = new AbortController();
  private readonly lanes = new Map<string, SendLane>();
  private readonly slots = new Map<string, PatchSlot>();
  /** `settled` of every unfinished caller promise: what `flush()` waits for. */
  private readonly open = new Set<Promise<void>>();
  private closing: Promise<OutboundCloseResult> | undefined;

  constructor(options: OutboundQueueOptions) {
    this.options = resolveOutboundOptions(options);
    this.log = this.options.logger.child({ component: "feishu-outbound" });
    // Every waiting chat, message and app-budget waiter listens on this one signal (and
    // stops listening when its wait ends): many listeners is normal here, not a leak.
    setMaxListeners(0, this.abort.signal);
    const { limits, clock } = this.options;
    const counters = emptyCounters();
    const appWindowMs = 1000 + limits.pacingMarginMs;
    const { sharedLimits } = this.options;
    const env: DeliveryEnv = {
      clock,
      retry: this.options.retry,
      appGate: new AppGate(limits.appQps, appWindowMs, clock),
      ...(sharedLimits && {
        shared: new SharedGate(
          sharedLimits,
          { key: "app", limit: limits.appQps, windowMs: appWindowMs },
          clock,
          counters,
          this.log,
        ),
      }),
      signal: this.abort.signal,
      counters,
      inFlight: { count: 0 },
      log: this.log,
    };
    this.context = { options: this.options, env, counters, log: this.log, abandoned: { count: 0 } };
  }

  /** True once `close()` was called: new work is refused. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Posts a message (or a reply) to a chat. Resolves with Feishu's message once posted;
   * rejects with the ClawbridgeError that stopped it (`CB_FEISHU_REJECTED` for a refused text,
   * the last `CB_FEISHU_SERVER`/`NETWORK`/`RATE_LIMITED` after `giveUpAfterMs`,
   * `CB_FEISHU_QUEUE_CLOSED` after `close()`, `CB_USAGE` for a malformed request).
   */
  send(request: OutboundSendRequest): Promise<OutboundSendResult> {
    if (this.closing) return Promise.reject(queueClosedError());
    let uuid: string;
    let plan: SendPlan;
    try {
      checkSendRequest(request);
      uuid = sendUuid(request.uuid, this.options.clock.now());
      plan = planSend(request.content, uuid, {
        limits: this.options.limits,
        truncationNotice: this.options.truncationNotice,
        fullOutputRef: request.fullOutputRef,
      });
    } catch (error) {
      return Promise.reject(asUsageError(error));
    }
    const result = this.track(deferred<OutboundSendResult>());
    let lane = this.lanes.get(request.chatId);
    if (!lane) {
      lane = new SendLane(request.chatId, this.context);
      this.lanes.set(request.chatId, lane);
    }
    lane.enqueue({ request, uuid, plan, result }, (idle) =>
      this.forgetWhenIdle(this.lanes, idle.chatId, idle),
    );
    return result.promise;
  }

  /**
   * Shows `card` on a message sent earlier (a card sent with `update_multi`, as `send` does).
   * Resolves once this card or a newer one for the same message has been applied.
   */
  patch(messageId: string, card: CardJson, options: OutboundPatchOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(queueClosedError());
    try {
      if (typeof messageId !== "string" || messageId === "")
        throw new TypeError("messageId must be a non-empty string");
      if (!isCard(card)) throw new TypeError("card must be a JSON object");
      JSON.stringify(card); // a circular or BigInt card fails here, not in the slot
    } catch (error) {
      return Promise.reject(asUsageError(error));
    }
    const waiter = this.track(deferred<void>());
    let slot = this.slots.get(messageId);
    if (!slot) {
      slot = new PatchSlot(messageId, this.context);
      this.slots.set(messageId, slot);
    }
    slot.add(card, options, waiter, (idle) => this.forgetWhenIdle(this.slots, idle.messageId, idle));
    return waiter.promise;
  }

  /**
   * Resolves `true` when everything queued before the call has settled (sent, patched or
   * failed), or `false` if `timeoutMs` passed first. Never rejects.
   */
  async flush(timeoutMs?: number): Promise<boolean> {
    const pending = [...this.open];
    if (pending.length === 0) return true;
    const all = Promise.all(pending).then(() => true);
    if (timeoutMs === undefined) return all;
    const timeout = unrefSleep(timeoutMs);
    try {
      return await Promise.race([all, timeout.promise.then(() => false)]);
    } finally {
      timeout.cancel();
    }
  }

  /**
   * Stops accepting work (new calls reject with `CB_FEISHU_QUEUE_CLOSED`), keeps sending
   * for up to `drainMs`, then rejects whatever is still waiting with that code. A call
   * already on the wire cannot be taken back: its caller gets Feishu's answer. Idempotent.
   */
  close(options: OutboundCloseOptions = {}): Promise<OutboundCloseResult> {
    this.closing ??= this.shutDown(options.drainMs ?? DEFAULT_DRAIN_MS);
    return this.closing;
  }

  /** Counters since start plus what is waiting now. */
  stats(): OutboundStats {
    const chats: Record<string, number> = {};
    let open = 0;
    for (const [chatId, lane] of this.lanes) {
      if (lane.jobs.length === 0) continue;
      chats[chatId] = lane.jobs.length;
      open += lane.jobs.length;
    }
    let patchingMessages = 0;
    for (const slot of this.slots.values()) {
      if (slot.pending === 0) continue;
      patchingMessages++;
      open += slot.pending;
    }
    const inFlight = this.context.env.inFlight.count;
    return {
      ...this.context.counters,
      queued: Math.max(0, open - inFlight),
      inFlight,
      chats,
      patchingMessages,
    };
  }

  private async shutDown(drainMs: number): Promise<OutboundCloseResult> {
    if (await this.flush(drainMs)) return { drained: true, abandoned: 0, stillInFlight: 0 };
    this.abort.abort(queueClosedError());
    await this.flush(IN_FLIGHT_GRACE_MS);
    const result = {
      drained: false,
      abandoned: this.context.abandoned.count,
      stillInFlight: this.context.env.inFlight.count,
    };
    this.log.warn(
      { ...result, drainMs },
      "outbound queue closed with work left; rejected what had not gone out",
    );
    return result;
  }

  private track<T>(entry: Deferred<T>): Deferred<T> {
    this.open.add(entry.settled);
    void entry.settled.then(() => this.open.delete(entry.settled));
    return entry;
  }

  // A lane or slot keeps its pacing history; forgetting it before that history expires
  // would let the next message start too early. Idle ones are dropped after that.
  private forgetWhenIdle<T extends Forgettable>(map: Map<string, T>, key: string, entry: T): void {
    if (entry.forgetTimer) return;
    const check = () => {
      entry.forgetTimer = undefined;
      if (!entry.idle || map.get(key) !== entry) return;
      const wait = entry.pacer.forgettableInMs(this.options.clock.now());
      if (wait > 0) schedule(wait);
      else map.delete(key);
    };
    const schedule = (ms: number) => {
      // Unref'd: forgetting is housekeeping, it must not keep the process alive.
      entry.forgetTimer = setTimeout(check, ms + 1);
      entry.forgetTimer.unref();
    };
    schedule(entry.pacer.forgettableInMs(this.options.clock.now()));
  }
}

function checkSendRequest(request: OutboundSendRequest): void {
  if (typeof request?.chatId !== "string" || request.chatId === "") {
    throw new TypeError("chatId must be a non-empty string");
  }
  const content = request.content as OutboundContent | undefined;
  if (content?.kind === "text") {
    if (typeof content.text !== "string") throw new TypeError("text content needs a string `text`");
  } else if (content?.kind === "card") {
    if (!isCard(content.card)) throw new TypeError("card content needs a JSON object `card`");
    if (typeof content.fallbackText !== "string") throw new TypeError("card content needs a `fallbackText`");
  } else {
    throw new TypeError('content.kind must be "text" or "card"');
  }
  if (request.replyInThread && !request.replyTo) throw new TypeError("replyInThread needs replyTo");
}

function isCard(card: unknown): card is CardJson {
  return typeof card === "object" && card !== null && !Array.isArray(card);
}

function asUsageError(error: unknown): ClawbridgeError {
  if (error instanceof ClawbridgeError) return error;
  return new ClawbridgeError(
    "CB_USAGE",
    feishuMessages.text("outboundMisuse", { reason: (error as Error).message }),
    {
      fix: feishuMessages.text("outboundMisuseFix"),
      cause: error,
    },
  );
}
