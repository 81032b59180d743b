import { monitorEventLoopDelay } from "node:perf_hooks";
import path from "node:path";
import {
  atLeast,
  atMost,
  epochMs,
  latencyContext,
  percentile,
  round,
  type BenchResult,
} from "../lib/report.js";
import { cpuMs, sleep, type StatsAnswer } from "../relay/ipc.js";
import { machine } from "../relay/world.js";
import { FaultInjector, planFaults, type Outage } from "./faults.js";
import { Exposition } from "./exposition.js";
import { InboxWatch } from "./inbox-watch.js";
import { Ledger, type Sent, type Tally, type TrafficKind } from "./ledger.js";
import { Random } from "./random.js";
import { MIX, Traffic } from "./traffic.js";
import { GATEWAY_NODES, SoakWorld } from "./world.js";

export interface SoakOptions {
  /** How long the traffic runs. */
  seconds: number;
  /** Envelopes per second, all kinds together (open loop: sent on time whatever became of the last). */
  ratePerS: number;
  seed: number;
  /** Group chats the group traffic goes round. */
  chats: number;
  /** One fault per this many seconds of traffic (at least one of each kind). */
  faultEveryS: number;
  /** RSS samples before this (s after the traffic started) are not in the slope. */
  warmupS: number;
  /**
   * Envelopes sent before this (s after the traffic started) are not in the latency: the
   * bridge's code is still being compiled (tsx, then V8) while the load starts at full rate.
   * They still count for what is lost or doubled.
   */
  latencyWarmupS: number;
  /** How long to wait after the traffic for everything to arrive before counting what is missing. */
  drainTimeoutMs: number;
  /** Where fault and progress lines go. */
  log: (line: string) => void;
}

/**
 * 50 envelopes a second: on this 2-core machine the bridge spends about 40 % of one core on
 * it (the load, the emulator and the fakes another 15 %), which leaves room for the other
 * work the machine does and for catching up after an outage; and the group share of it keeps
 * the bridge's Feishu calls near 32 a second, under the 50 an app may make, with room for
 * the retries after a 429 burst or a dropped connection.
 */
export const SOAK_RATE_PER_S = 50;

export const DEFAULT_SOAK: Omit<SoakOptions, "seconds"> = {
  ratePerS: SOAK_RATE_PER_S,
  seed: 14,
  chats: 10,
  faultEveryS: 15,
  warmupS: 60,
  latencyWarmupS: 5,
  drainTimeoutMs: 30_000,
  log: (line) => process.stderr.write(`${line}\n`),
};

const RSS_SAMPLE_MS = 5_000;
/** No fault in the first and last stretch of the traffic: they should find a settled bridge, and clear before it ends. */
const QUIET_EDGE_S = 3;
const DRAIN_POLL_MS = 200;
const WARM_UP_TIMEOUT_MS = 20_000;

export interface RssSample {
  /** Seconds after the traffic started. */
  t: number;
  rssMb: number;
  heapUsedMb: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, "log">;
  sent: number;
  sentByKind: Record<string, number>;
  trafficMs: number;
  /** Envelopes whose first hop arrived, over the time from the first send to the last such arrival. */
  deliveredPerS: number;
  offeredPerS: number;
  /** Every first hop of the timed traffic (sent → arrived at its destination), ms. */
  latencies: number[];
  /** Those sent after the latency warm-up whose window no outage touched. */
  measured: number[];
  /** First hops sent during the latency warm-up. */
  warmupLatencies: number[];
  /** `measured` by kind of envelope. */
  measuredByKind: Record<string, number[]>;
  /** Every first hop: sent (s after the start), kind, ms, whether it is in `measured`. */
  hops: { atS: number; kind: string; route: string; ms: number; measured: boolean }[];
  /** The slowest measured first hops: when they were sent (s after the start), their kind, ms. */
  slowest: { atS: number; kind: string; ms: number }[];
  excludedForOutages: number;
  /** Answers: a run's end at its gateway → its answer line in an inbox (ms), outside outages. */
  answers: number[];
  tally: Tally;
  drained: boolean;
  drainMs: number;
  waitingAtEnd: number;
  faults: ReturnType<FaultInjector["summary"]>;
  presses: Traffic["presses"];
  redeliveries: number;
  rss: RssSample[];
  rssSlopeMbPerMin: number;
  bridge: {
    alive: boolean;
    exit: { code: number | null; signal: NodeJS.Signals | null };
    cpuShare: number;
    outboxPendingAtTrafficEnd: number;
    lastStats?: StatsAnswer;
    stderrTail: string;
  };
  /** What the bridge's own `/metrics` said once the soak had drained. */
  metrics: ReturnType<typeof bridgeMetrics>;
  loadCpuShare: number;
  loadEventLoopDelayP99Ms: number;
  unreadableLines: number;
}

/**
 * The soak (issue 14, "Load"): mixed mailbox, group and task traffic at a stated rate for
 * `seconds`, with faults injected at random (seeded) meanwhile; then, once everything has
 * arrived or `drainTimeoutMs` has passed, what was lost or doubled at every destination,
 * the first hop's latency outside outages, and the bridge process's RSS over time.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { log } = options;
  const random = new Random(options.seed);
  const world = await SoakWorld.open({ label: `${options.seconds}s`, chats: options.chats });
  const ledger = new Ledger();
  const watch = new InboxWatch(path.join(world.folder.root, "messages"), (seen) => ledger.line(seen));
  const unsubscribe = observe(world, ledger);
  const traffic = new Traffic(world, ledger, random);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    watch.start();
    const plan = planFaults(
      random,
      Math.max(5, Math.round(options.seconds / options.faultEveryS)),
      QUIET_EDGE_S * 1000,
      (options.seconds - QUIET_EDGE_S) * 1000,
    );
    const rss: RssSample[] = [];
    const faults = new FaultInjector(world, log);
    await faults.prepare();
    // One envelope of each kind through every path before the clock starts, so the bridge's
    // lazily started parts (its lock worker, the card code) are not started under full load.
    for (const kind of Object.keys(MIX) as TrafficKind[]) traffic.sendOf(kind);
    const warmedUp = await until(() => ledger.complete(), WARM_UP_TIMEOUT_MS);
    if (!warmedUp) log(`soak warm-up: ${ledger.waiting()} envelopes still waiting; going on`);
    const before = await world.stats();
    const startedAt = epochMs();
    faults.startedAt = startedAt;
    rss.push(sample(before, 0));
    const sampler = sampleEvery(world, startedAt, rss);
    const loadCpuBefore = cpuMs();
    loopDelay.enable();

    // Open loop: envelope i goes out at i / rate s, faults at their planned times.
    const total = Math.round(options.seconds * options.ratePerS);
    const started = performance.now();
    let nextFault = 0;
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / options.ratePerS;
      while (nextFault < plan.length && started + plan[nextFault]!.atMs <= due) {
        const wait = started + plan[nextFault]!.atMs - performance.now();
        if (wait > 1) await sleep(wait);
        faults.inject(plan[nextFault++]!);
      }
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      traffic.next();
    }
    const trafficMs = performance.now() - started;
    loopDelay.disable();
    const loadCpuShare = (cpuMs() - loadCpuBefore) / trafficMs;
    const atTrafficEnd = await world.stats();
    rss.push(sample(atTrafficEnd, trafficMs / 1000));
    sampler.stop();
    log(
      `soak traffic over: ${total} envelopes in ${(trafficMs / 1000).toFixed(1)} s; ${ledger.waiting()} still waiting`,
    );

    // Drain: until everything arrived and the bridge has nothing left to send, bounded.
    const drainStarted = performance.now();
    let last = atTrafficEnd;
    let drained = false;
    while (performance.now() - drainStarted < options.drainTimeoutMs) {
      watch.readAll();
      last = await world.stats();
      if (ledger.complete() && last.pending === 0 && traffic.talk.settled) {
        drained = true;
        break;
      }
      await sleep(DRAIN_POLL_MS);
    }
    const drainMs = performance.now() - drainStarted;
    const metrics = bridgeMetrics(await Exposition.scrape(world.opsUrl));
    await faults.settled();
    watch.stop();

    const outages = faults.resolved();
    const hops = ledger.firstHops();
    const timed = hops.filter((h) => h.sent.sentAt >= startedAt);
    const latencies = timed.map((h) => h.arrivedAt - h.sent.sentAt);
    const warm = startedAt + options.latencyWarmupS * 1000;
    const untouched = hops.filter(
      (h) => h.sent.sentAt >= warm && !touchedByOutage(h.sent, h.sent.sentAt, h.arrivedAt, outages),
    );
    const kept = new Set(untouched);
    const answers = ledger
      .answers()
      .filter((a) => !touchedByOutage(a.sent, a.endedAt, a.arrivedAt, outages, answerExposure(a.sent)))
      .map((a) => a.arrivedAt - a.endedAt);
    const lastArrival = Math.max(...timed.map((h) => h.arrivedAt));
    const bridgeCpuMs = atTrafficEnd.cpuMs - before.cpuMs;
    const tally = ledger.tally();
    // No crash: the bridge is still running after all that, and stops cleanly when asked.
    const alive = world.bridgeAlive;
    await world.bridge.stop(10_000);
    const exit = await world.bridge.exited;
    const { log: _log, ...settings } = options;
    return {
      options: settings,
      sent: ledger.size,
      sentByKind: traffic.counts,
      trafficMs,
      deliveredPerS: timed.length / ((lastArrival - startedAt) / 1000),
      offeredPerS: total / (trafficMs / 1000),
      latencies,
      measured: untouched.map((h) => h.arrivedAt - h.sent.sentAt),
      warmupLatencies: timed.filter((h) => h.sent.sentAt < warm).map((h) => h.arrivedAt - h.sent.sentAt),
      measuredByKind: byKind(untouched),
      hops: hops.map((h) => ({
        atS: (h.sent.sentAt - startedAt) / 1000,
        kind: h.sent.kind,
        route: h.sent.route,
        ms: h.arrivedAt - h.sent.sentAt,
        measured: kept.has(h),
      })),
      slowest: untouched
        .map((h) => ({
          atS: round((h.sent.sentAt - startedAt) / 1000, 2),
          kind: h.sent.kind,
          ms: round(h.arrivedAt - h.sent.sentAt, 1),
        }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 40),
      excludedForOutages: hops.filter((h) => h.sent.sentAt >= warm).length - untouched.length,
      answers,
      tally,
      drained,
      drainMs,
      waitingAtEnd: ledger.waiting(),
      faults: faults.summary(),
      presses: traffic.presses,
      redeliveries: traffic.talk.redeliveries,
      rss,
      rssSlopeMbPerMin: slopePerMinute(rss.filter((s) => s.t >= options.warmupS)),
      bridge: {
        alive,
        exit,
        cpuShare: bridgeCpuMs / trafficMs,
        outboxPendingAtTrafficEnd: atTrafficEnd.pending,
        lastStats: last,
        stderrTail: world.bridge.stderr.slice(-2_000),
      },
      metrics,
      loadCpuShare,
      loadEventLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - 10),
      unreadableLines: watch.unreadable,
    };
  } finally {
    traffic.stop();
    unsubscribe();
    watch.stop();
    await world.close();
  }
}

/** `npm run bench`: the soak for `seconds` (5 minutes unless `--soak-seconds` or CLAWBRIDGE_SOAK_SECONDS says otherwise). */
export async function soakBenchmarks(seconds = 300): Promise<BenchResult[]> {
  const options: SoakOptions = { ...DEFAULT_SOAK, seconds };
  let report: SoakReport;
  try {
    report = await runSoak(options);
  } catch (error) {
    process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    return [
      { name: "soak.lost", value: NaN, unit: "envelopes", goal: "<= 0", ok: false, error: String(error) },
    ];
  }
  const shared = {
    seconds,
    targetPerS: options.ratePerS,
    seed: options.seed,
    faults: report.faults.length,
    bridge:
      "own process (bench/relay/bridge-process.ts, from source through tsx); load, emulator and fake gateways in the bench process",
    ...machine(),
  };
  const { tally } = report;
  const rssAfterWarmup = report.rss.filter((s) => s.t >= options.warmupS);
  return [
    atLeast("soak.envelopes_per_s", report.deliveredPerS, "/s", options.ratePerS * 0.95, {
      ...shared,
      offeredPerS: round(report.offeredPerS),
      sent: report.sent,
      sentByKind: report.sentByKind,
      mix: MIX,
      measured:
        "envelopes whose first hop arrived / (last such arrival − first send); goal: 95 % of the target",
      bridgeCpu: `${Math.round(report.bridge.cpuShare * 100)}% of a core`,
      loadCpu: `${Math.round(report.loadCpuShare * 100)}% of a core`,
      outboxPendingAtTrafficEnd: report.bridge.outboxPendingAtTrafficEnd,
      drainMs: round(report.drainMs),
      rateWhy: "see SOAK_RATE_PER_S in bench/soak/soak.ts",
    }),
    atMost("soak.delivery_p99_ms", percentile(report.measured, 99), "ms", 50, {
      ...shared,
      ...latencyContext(report.measured),
      excludedForOutages: report.excludedForOutages,
      latencyWarmupS: options.latencyWarmupS,
      warmupFirstHops: latencyContext(report.warmupLatencies),
      slowest: report.slowest.slice(0, 5),
      byKind: Object.fromEntries(
        Object.entries(report.measuredByKind).map(([kind, samples]) => [kind, latencyContext(samples)]),
      ),
      allFirstHops: latencyContext(report.latencies),
      answerLines: latencyContext(report.answers),
      loadEventLoopDelayP99Ms: round(report.loadEventLoopDelayP99Ms),
      bridgeDeliveryP99BoundS: report.metrics.deliveryP99BoundS,
      measured:
        "per envelope, from just before its write (inbox line) or event (group message, agent's group message) to its first destination: the agent request at the fake gateway (received[].at) or, for a mailbox-only node, the line read in its inbox (inotify); all clocks this process's",
      outages:
        "an envelope is left out when [sent, arrived] overlaps an injected outage that touches its path: a dropped gateway (deliveries to that node), the dropped long connection (commands said in the group), a held inbox lock (lines the bridge appends); a Feishu 5xx/429 burst touches only posts and cards, which are no envelope's first hop here; see bench/soak/faults.ts for how each outage's end is observed",
      faultLog: report.faults,
    }),
    { name: "soak.rss_mb_start", value: round(report.rss[0]?.rssMb ?? NaN, 1), unit: "MB", ...shared },
    { name: "soak.rss_mb_end", value: round(report.rss.at(-1)?.rssMb ?? NaN, 1), unit: "MB", ...shared },
    atMost("soak.rss_slope_mb_per_min", report.rssSlopeMbPerMin, "MB/min", 1, {
      ...shared,
      warmupS: options.warmupS,
      samples: rssAfterWarmup.length,
      sampleEveryS: RSS_SAMPLE_MS / 1000,
      rssMb: report.rss.map((s) => round(s.rssMb, 1)),
      heapUsedSlopeMbPerMin: round(
        slopePerMinute(rssAfterWarmup.map((s) => ({ ...s, rssMb: s.heapUsedMb }))),
      ),
      measured:
        "least-squares slope of the bridge process's RSS (no forced GC), sampled every 5 s after the warm-up",
      note: "the bridge's bounded memories (done ids per outbox, recent ids per inbox, loop-guard hops, finished tasks) take longer than 5 minutes to fill at this rate: a slope here is not by itself a leak",
    }),
    atMost("soak.lost", tally.lost, "envelopes", 0, {
      ...shared,
      drained: report.drained,
      waitingAtEnd: report.waitingAtEnd,
      problems: tally.problems,
      counted:
        "by id at every destination: runs at the fake gateways by idempotency key, lines the bridge wrote by envelope id, the bridge's posts at the emulator by uuid, and each /run card reaching a final state",
      bridgeAlive: report.bridge.alive,
      bridgeExit: report.bridge.exit,
      bridgeMetrics: report.metrics,
    }),
    atMost("soak.duplicated", tally.duplicated, "envelopes", 0, {
      ...shared,
      problems: tally.problems,
      resentRequests: tally.resentRequests,
      groupRedeliveries: report.redeliveries,
      cancelPresses: report.presses,
      finalStates: tally.finalStates,
      cardRegressions: tally.cardRegressions.slice(0, 5),
      cancelledButRanOn: tally.cancelledButRanOn.length,
      commandReplies: tally.commandReplies,
      otherPosts: tally.otherPosts,
    }),
  ];
}

/** Hooks the ledger to the destinations: agent requests and runs at the fakes, the bridge's posts and patches. */
function observe(world: SoakWorld, ledger: Ledger): () => void {
  const offs: (() => void)[] = [];
  for (const node of GATEWAY_NODES) {
    const fake = world.fakes[node];
    offs.push(
      fake.on("request", (frame) => {
        if (frame.method !== "agent") return;
        const params = frame.params as { idempotencyKey?: string; message?: string };
        // `received` got this frame just before the event: its `at` is the arrival.
        ledger.gatewayRequest(
          node,
          params.idempotencyKey ?? "",
          params.message ?? "",
          fake.received.at(-1)!.at,
        );
      }),
      fake.on("run", (run) => {
        if (run.origin !== "agent") return;
        ledger.run(node, run);
        void fake.runFinished(run.runId).then((info) => info && ledger.runEnded(info, epochMs()));
      }),
    );
  }
  const bridgeApp = world.emu.bridge.appId;
  offs.push(
    world.emu.onMessageChange((change) => {
      const message = world.emu.message(change.messageId);
      if (!message || message.senderAppId !== bridgeApp) return;
      if (change.kind === "created") ledger.post(message);
      else ledger.patched(message);
    }),
  );
  return () => offs.forEach((off) => off());
}

/** The series that say what the faults did inside the bridge, and whether it gave anything up. */
function bridgeMetrics(m: Exposition) {
  const byLabel = (name: string, label: string, values: readonly string[]) =>
    Object.fromEntries(values.map((value) => [value, m.total(name, { [label]: value })]));
  return {
    gatewayReconnects: byLabel("gateway_reconnects_total", "node", GATEWAY_NODES),
    feishuReconnects: m.total("feishu_reconnects_total"),
    feishuCalls: byLabel("feishu_calls_total", "outcome", [
      "sent",
      "patched",
      "coalesced",
      "retried",
      "rate_limited",
      "fallback",
      "truncated",
      "failed",
    ]),
    envelopes: byLabel("envelopes_total", "outcome", ["delivered", "retried", "dead_letter", "overflow"]),
    deadLetters: m.total("dead_letters"),
    quarantinedLines: m.total("quarantined_lines_total"),
    intakeEvents: byLabel("intake_events_total", "verdict", [
      "handled",
      "duplicate",
      "failed",
      "card_action",
    ]),
    /** The bridge's own view: outbox → effect done, the bucket bound (s) holding the 99th percentile. */
    deliveryP99BoundS: byLabelBound(m, ["gateway", "mailbox", "chat"]),
  };
}

function byLabelBound(m: Exposition, routes: readonly string[]): Record<string, number | undefined> {
  return Object.fromEntries(
    routes.map((route) => [route, m.percentileBound("delivery_seconds", 99, { route })]),
  );
}

/** Polls `done` until it is true (true) or `timeoutMs` has passed (false). */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(DRAIN_POLL_MS);
  }
  return true;
}

function byKind(hops: readonly { sent: Sent; arrivedAt: number }[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { sent, arrivedAt } of hops) (out[sent.kind] ??= []).push(arrivedAt - sent.sentAt);
  return out;
}

/** Whether an outage that touches the envelope's path overlaps [from, to]. */
function touchedByOutage(
  sent: Sent,
  from: number,
  to: number,
  outages: readonly Outage[],
  exposedTo: readonly string[] = sent.exposedTo,
): boolean {
  return outages.some(
    (o) => exposedTo.includes(o.touches) && o.start <= to && (o.end ?? Number.POSITIVE_INFINITY) >= from,
  );
}

/** An answer comes back over its node's gateway link and is appended to an inbox. */
function answerExposure(sent: Sent): string[] {
  return [...sent.exposedTo.filter((e) => e.startsWith("gateway:")), "inbox"];
}

function sample(stats: StatsAnswer, t: number): RssSample {
  return { t, rssMb: stats.rssMb, heapUsedMb: stats.heapUsedMb };
}

/** Samples the bridge's memory every `RSS_SAMPLE_MS` (a slow answer skips a turn rather than piling up). */
function sampleEvery(world: SoakWorld, startedAt: number, into: RssSample[]): { stop: () => void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void world
      .stats()
      .then((stats) => into.push(sample(stats, (epochMs() - startedAt) / 1000)))
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, RSS_SAMPLE_MS);
  return { stop: () => clearInterval(timer) };
}

/** Least-squares slope of RSS over time, in MB per minute (NaN with fewer than 3 samples). */
export function slopePerMinute(samples: readonly { t: number; rssMb: number }[]): number {
  if (samples.length < 3) return NaN;
  const n = samples.length;
  const meanT = samples.reduce((s, p) => s + p.t, 0) / n;
  const meanY = samples.reduce((s, p) => s + p.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.t - meanT) * (p.rssMb - meanY);
    den += (p.t - meanT) ** 2;
  }
  return (num / den) * 60;
}
