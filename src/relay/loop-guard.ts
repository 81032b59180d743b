import { nodeKey, systemClock, type Clock, type Translate } from "../core/index.js";
import type { RelayMessageKey } from "./messages.js";

/** `relay.maxHops` and `relay.budget`, plus the clock tests move by hand. */
export interface LoopGuardOptions {
  /** Highest hop a forwarded envelope may carry. */
  maxHops: number;
  /** Forwards one pair of nodes may exchange in any sliding minute. */
  perPairPerMinute: number;
  /** Pause for a pair that went over its budget. */
  cooldownSeconds: number;
  clock?: Clock;
}

/** One forward the relay is about to make. */
export interface Forward {
  from: string;
  to: string;
  /** The hop the forwarded envelope would carry. */
  hop: number;
  /** The envelope's `conversation`, if it has one: hop stops are announced per conversation. */
  conversation?: string;
}

/** Why a forward was refused, and whether this refusal is the one to tell the group about. */
export interface Refusal {
  ok: false;
  reason: "hops" | "budget";
  /** The two nodes, sorted: `"ai-pc ↔ office-mac"`. */
  pair: string;
  /** Budget: when the cool-down ends (ms since the epoch). */
  until?: number;
  /** The limit that was exceeded: `maxHops` or `perPairPerMinute`. */
  limit: number;
  /** Budget: seconds from this refusal until the cool-down ends. */
  resumesInSeconds?: number;
  /** True exactly once per stop: the relay posts `describeStop` in the group then, and only then. */
  announce: boolean;
}

export type Admission = { ok: true } | Refusal;

const BUDGET_WINDOW_MS = 60_000;
/** A conversation that keeps hitting `maxHops` is re-announced at most this often. */
const HOPS_ANNOUNCE_EVERY_MS = 10 * 60_000;
/** State idle this long is forgotten; by then it can no longer change a decision. */
const IDLE_MS = 60 * 60_000;
const SWEEP_EVERY_MS = 60_000;

interface PairState {
  /** Admission times inside the current window, oldest first; at most `perPairPerMinute`. */
  admitted: number[];
  coolUntil?: number;
  lastSeen: number;
}

interface HopStop {
  announcedAt: number;
  lastSeen: number;
}

/** Envelope hops remembered for replies that leave `hop` out (about 1 MB at most). */
const HOPS_KEPT = 10_000;

/**
 * The relay's loop brake (ARCHITECTURE.md "Routes", Loops): a forward is refused when its
 * hop exceeds `maxHops`, or when its pair of nodes (a → b and b → a alike) used up
 * `perPairPerMinute` in the last 60 s — which also pauses the pair for `cooldownSeconds`.
 * Each stop is announced once, so the group hears about a runaway pair once instead of
 * once per refused forward. Memory stays bounded: pairs and conversations idle for an hour
 * are forgotten.
 */
export class LoopGuard {
  private readonly maxHops: number;
  private readonly perPairPerMinute: number;
  private readonly cooldownMs: number;
  private readonly clock: Clock;
  private readonly pairs = new Map<string, PairState>();
  private readonly hopStops = new Map<string, HopStop>();
  /** Hops of envelopes the relay sent on, by id: a reply that names one goes on from there. */
  private readonly hops = new Map<string, number>();
  private lastSweep: number;

  constructor(options: LoopGuardOptions) {
    for (const key of ["maxHops", "perPairPerMinute", "cooldownSeconds"] as const) {
      if (!Number.isFinite(options[key]) || options[key] < 1)
        throw new RangeError(`${key} must be at least 1`);
    }
    this.maxHops = options.maxHops;
    this.perPairPerMinute = options.perPairPerMinute;
    this.cooldownMs = options.cooldownSeconds * 1000;
    this.clock = options.clock ?? systemClock;
    this.lastSweep = this.clock.now();
  }

  /** May an envelope with this hop go from `from` to `to`? Counts it when allowed. */
  admit(forward: Forward): Admission {
    const now = this.clock.now();
    this.sweepIfDue(now);
    const { key, label } = pairOf(forward.from, forward.to);

    // Hops first: it needs no state, and a chain that is too long stays stopped whatever the budget says.
    if (forward.hop > this.maxHops) {
      const stopKey = forward.conversation === undefined ? key : `${key}\u0000${forward.conversation}`;
      const stop = this.hopStops.get(stopKey);
      const announce = !stop || now - stop.announcedAt >= HOPS_ANNOUNCE_EVERY_MS;
      this.hopStops.set(stopKey, { announcedAt: announce || !stop ? now : stop.announcedAt, lastSeen: now });
      return { ok: false, reason: "hops", pair: label, limit: this.maxHops, announce };
    }

    let state = this.pairs.get(key);
    if (!state) {
      state = { admitted: [], lastSeen: now };
      this.pairs.set(key, state);
    }
    state.lastSeen = now;
    if (state.coolUntil !== undefined) {
      if (now < state.coolUntil) return this.budgetRefusal(label, state.coolUntil, now, false);
      // The pause is over: the pair starts with a full budget, not with the forwards that caused it.
      state.coolUntil = undefined;
      state.admitted = [];
    }
    while (state.admitted.length > 0 && now - state.admitted[0]! >= BUDGET_WINDOW_MS) state.admitted.shift();
    if (state.admitted.length >= this.perPairPerMinute) {
      state.coolUntil = now + this.cooldownMs;
      return this.budgetRefusal(label, state.coolUntil, now, true);
    }
    state.admitted.push(now);
    return { ok: true };
  }

  /** Notes the hop an envelope the relay sent on carries (see `hopAfter`). */
  rememberHop(id: string, hop: number): void {
    this.hops.delete(id);
    this.hops.set(id, hop);
    if (this.hops.size > HOPS_KEPT) this.hops.delete(this.hops.keys().next().value!);
  }

  /**
   * The hop a forward of this envelope carries. Agents writing to the folder by hand often
   * leave `hop` out of a reply; one that names what it answers (`replyTo`) continues that
   * conversation's count, so two mailbox agents answering each other still reach `maxHops`
   * rather than starting again at 0 with every reply. Kept in memory: after a restart, the
   * per-pair budget is what stops such a pair.
   */
  hopAfter(envelope: { hop?: number; replyTo?: string }): number {
    const known = envelope.replyTo === undefined ? undefined : this.hops.get(envelope.replyTo);
    return Math.max(envelope.hop ?? 0, known ?? 0) + 1;
  }

  /** Pairs and conversations currently remembered (for tests and status). */
  get size(): number {
    return this.pairs.size + this.hopStops.size;
  }

  private budgetRefusal(pair: string, until: number, now: number, announce: boolean): Refusal {
    return {
      ok: false,
      reason: "budget",
      pair,
      until,
      limit: this.perPairPerMinute,
      resumesInSeconds: Math.ceil((until - now) / 1000),
      announce,
    };
  }

  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, state] of this.pairs) {
      const cooling = state.coolUntil !== undefined && now < state.coolUntil;
      if (!cooling && now - state.lastSeen > IDLE_MS) this.pairs.delete(key);
    }
    for (const [key, stop] of this.hopStops) {
      if (now - stop.lastSeen > IDLE_MS) this.hopStops.delete(key);
    }
  }
}

/** The localised sentence announcing a stop, e.g. `已停止 ai-pc ↔ office-mac 的自动对话（超过 4 跳）`. */
export function describeStop(admission: Refusal, t: Translate<RelayMessageKey>): string {
  if (admission.reason === "hops") {
    return t("stoppedHops", { pair: admission.pair, limit: admission.limit });
  }
  return t("pausedBudget", {
    pair: admission.pair,
    limit: admission.limit,
    seconds: admission.resumesInSeconds ?? 0,
  });
}

/** a → b and b → a are one pair; node names compare ignoring case, as everywhere else. */
function pairOf(from: string, to: string): { key: string; label: string } {
  const [first, second] = nodeKey(from) <= nodeKey(to) ? [from, to] : [to, from];
  return { key: `${nodeKey(first)}\u0000${nodeKey(second)}`, label: `${first} ↔ ${second}` };
}
