import { promises as fs } from "node:fs";
import path from "node:path";
import {
  errnoCode,
  systemClock,
  type Clock,
  type Locale,
  type LocalText,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import type { Metrics } from "./metrics.js";
import { opsMessages } from "./messages.js";

/** One thing the monitor looks at; `undefined` means fine, a string says what is wrong. */
export interface HealthCheck {
  /** Bounded label value: `shared_folder`, `state_dir`, `feishu_intake`, `gateway:<node>`. */
  name: string;
  probe(): Promise<string | undefined> | string | undefined;
  /** How long a problem must last before it counts (brief reconnects are not worth a notice). */
  graceMs?: number;
  /** The notices, given the reason and how long the problem lasted. */
  down(reason: string): LocalText;
  back(duration: string): LocalText;
  /**
   * Whether this process says it in the chat (default: always). Among replicas a view they
   * all share (a node's gateway) is said by one of them, not once per replica.
   */
  announces?(): boolean;
}

/** Where notices go: the audit chat, or every served chat. */
export interface NoticeSink {
  chats: readonly string[];
  send(chatId: string, text: string, uuid: string): Promise<unknown>;
}

export interface HealthMonitorOptions {
  checks: HealthCheck[];
  metrics: Metrics;
  logger: Logger;
  locale: Locale;
  notices?: NoticeSink;
  /** How often every check runs; default 5 s. */
  intervalMs?: number;
  /** A check that takes longer than this fails (an SMB share that hangs); default 3 s. */
  probeTimeoutMs?: number;
  clock?: Clock;
}

interface CheckState {
  /** When the current problem was first seen (before the grace ran out). */
  since?: number;
  reason?: string;
  /** The problem outlasted its grace: logged, counted, announced. */
  reported: boolean;
  /** Good probes in a row since a reported problem (see `RECOVERY_PROBES`). */
  goodInARow: number;
}

/**
 * A reported problem is over after this many good probes in a row. A nearly full disk
 * passes a probe now and then (a failed write gives its pages back): one good probe would
 * make the group hear "back" and "failing" again and again.
 */
export const RECOVERY_PROBES = 3;

export const DEFAULT_HEALTH_INTERVAL_MS = 5_000;

/**
 * Looks at the parts a person cannot see failing — the shared folder, the state folder, the
 * Feishu intake, each gateway — every few seconds. When one starts or stops failing (past its
 * grace) it logs one line, moves `health_problem`/`health_transitions_total` and says so in
 * the group; `/readyz` reads the same verdicts, so the probes' I/O is not repeated per request.
 */
export class HealthMonitor {
  private readonly states = new Map<string, CheckState>();
  private readonly probing = new Map<string, Promise<string | undefined>>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer?: TimerHandle;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: "health" });
    for (const check of options.checks) {
      this.states.set(check.name, { reported: false, goodInARow: 0 });
      options.metrics.healthProblem.set({ check: check.name }, 0);
      options.metrics.healthTransitions.inc({ check: check.name }, 0);
    }
  }

  /** Runs every check once (so `/readyz` is right from the start), then every interval. */
  async start(): Promise<void> {
    await this.runOnce();
    const every = this.options.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
    this.timer = this.clock.setInterval(() => void this.runOnce(), every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearInterval(this.timer);
    await this.running;
  }

  /** Each check's verdict now: failing ones with their reason (within their grace too). */
  verdicts(): Record<string, { ok: boolean; reason?: string }> {
    const out: Record<string, { ok: boolean; reason?: string }> = {};
    for (const [name, state] of this.states) {
      out[name] = state.since === undefined ? { ok: true } : { ok: false, reason: state.reason };
    }
    return out;
  }

  /** One round of checks; overlapping rounds are skipped (a hung share must not pile them up). */
  runOnce(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    await Promise.all(
      this.options.checks.map(async (check) => {
        const reason = await this.probe(check);
        if (!this.stopped) await this.record(check, reason);
      }),
    );
  }

  private async probe(check: HealthCheck): Promise<string | undefined> {
    const ms = this.options.probeTimeoutMs ?? 3_000;
    // A probe of a hung share never returns and holds one of libuv's few I/O threads: while it
    // hangs, later rounds wait on that same probe instead of starting (and hanging) another.
    let pending = this.probing.get(check.name);
    if (!pending) {
      pending = Promise.resolve()
        .then(() => check.probe())
        .catch((error: unknown) => (error instanceof Error ? error.message : String(error)))
        .finally(() => this.probing.delete(check.name));
      this.probing.set(check.name, pending);
    }
    let timer: TimerHandle | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = this.clock.setTimeout(
        () => resolve(opsMessages.text("checkTimedOut", { ms }).render(this.options.locale)),
        ms,
      );
      timer.unref();
    });
    try {
      return await Promise.race([pending, timeout]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  private async record(check: HealthCheck, reason: string | undefined): Promise<void> {
    const state = this.states.get(check.name)!;
    const now = this.clock.now();
    const { metrics } = this.options;
    if (reason !== undefined) {
      state.goodInARow = 0;
      state.since ??= now;
      state.reason = reason;
      if (state.reported || now - state.since < (check.graceMs ?? 0)) return;
      state.reported = true;
      metrics.healthProblem.set({ check: check.name }, 1);
      metrics.healthTransitions.inc({ check: check.name });
      this.log.error({ check: check.name, reason }, `health check failing: ${check.name}: ${reason}`);
      await this.announce(check, check.down(reason), `down-${state.since}`);
      return;
    }
    const since = state.since;
    const wasReported = state.reported;
    if (wasReported && ++state.goodInARow < RECOVERY_PROBES) return;
    state.goodInARow = 0;
    state.since = undefined;
    state.reason = undefined;
    state.reported = false;
    if (since === undefined || !wasReported) return;
    const lastedMs = now - since;
    metrics.healthProblem.set({ check: check.name }, 0);
    metrics.healthTransitions.inc({ check: check.name });
    this.log.info({ check: check.name, lastedMs }, `health check recovered: ${check.name}`);
    await this.announce(check, check.back(this.duration(lastedMs)), `back-${since}`);
  }

  private duration(ms: number): string {
    const seconds = Math.max(1, Math.round(ms / 1000));
    const text =
      seconds < 120
        ? opsMessages.text("seconds", { n: seconds })
        : opsMessages.text("minutes", { n: Math.round(seconds / 60) });
    return text.render(this.options.locale);
  }

  private async announce(check: HealthCheck, text: LocalText, key: string): Promise<void> {
    const sink = this.options.notices;
    if (!sink || check.announces?.() === false) return;
    const rendered = text.render(this.options.locale);
    await Promise.all(
      sink.chats.map((chatId) =>
        sink
          .send(chatId, rendered, noticeUuid(check.name, key, chatId))
          .catch((error: unknown) =>
            this.log.warn({ err: error, check: check.name }, "could not post the health notice"),
          ),
      ),
    );
  }
}

/** Feishu's uuid (≤ 50 chars): one notice per problem and chat, even when a send is retried. */
function noticeUuid(check: string, key: string, chatId: string): string {
  const raw = `hm-${check}-${key}-${chatId.slice(-8)}`;
  return raw.length <= 50 ? raw : raw.slice(0, 50);
}

/**
 * Can this folder be listed and written? A new file each time: rewriting an existing one may
 * succeed on a full disk, and `access(W_OK)` says nothing about space. The probe file is
 * removed again; its name says whose it is.
 */
export async function probeFolder(dir: string, probeName: string): Promise<string | undefined> {
  try {
    await fs.readdir(dir);
    const file = path.join(dir, `.${probeName}-probe-${process.pid}`);
    await fs.writeFile(file, "ok\n");
    await fs.rm(file, { force: true });
    return undefined;
  } catch (error) {
    const code = errnoCode(error);
    return code ? `${code}: ${(error as Error).message.replace(/^[A-Z]+: /, "")}` : String(error);
  }
}
