import { appendFileSync } from "node:fs";
import { benchFolder } from "../lib/fixture.js";
import { atLeast, epochMs, round, type BenchResult } from "../lib/report.js";
import { Child, sleep } from "../relay/ipc.js";
import { ArrivalLog, BENCH_BUDGET, GATEWAY_TOKEN, machine, writeConfig } from "../relay/world.js";
import { HaWorld, KEY_PREFIX, SENDER } from "./world.js";
import { throughputWorkload } from "../relay/throughput-workload.js";

// The workload of `relay.throughput_envelopes_per_s` (bench/relay/throughput.ts), unchanged.
const NODES = 10;
const ENVELOPES = 10_000;
// Longer than relay.throughput's 500: the comparison is of sustained throughput, so both sides
// warm up alike, until the replicas too are warm. Each replica compiles the same code on its
// own and sees about a third of the deliveries, so it warms up about three times slower than
// one process: after 5,000 envelopes the replicas still used 0.50 ms of CPU per envelope in the
// measured run, after 15,000 0.38–0.44, after 25,000 0.39–0.40; one process the same after
// 5,000 and after 15,000 (0.30–0.38, alternating runs).
const WARMUP_ENVELOPES = 15_000;
const LINES_PER_WRITE = 10;
const RUN_TIMEOUT_MS = 30_000;
const WARMUP_TIMEOUT_MS = 60_000;
const SETTLE_MS = 30_000;
const POLL_MS = 25;
const GOAL_RATIO = 0.8;
// The comparison is made this many times, each time one process and then the replicas, and
// the round with the median ratio is reported: this machine's speed drifts by up to 1.6×
// within a minute (the same code measured 0.55–0.92 in single rounds), and one round
// judged whichever side happened to run in the slower stretch.
const ROUNDS = 3;

const nodeName = (k: number) => `node-${k}`;
const nodes = Array.from({ length: NODES }, (_, k) => nodeName(k));

/** What one side of the comparison is: how to read what is still pending and the CPU it used. */
interface Side {
  inbox: (node: string) => string;
  arrivals: ArrivalLog;
  /** Items waiting in every outbox (across replicas). */
  pending(): Promise<number>;
  /** CPU time of the bridge process(es), ms. */
  cpuMs(): Promise<number>;
  /** redis-server's CPU time (ms) and commands processed so far, where there is one. */
  redisUsage?(): Promise<{ cpuMs: number; commands: number; calls: Record<string, number> }>;
}

interface Measured {
  perSecond: number;
  received: number;
  lastArrivalMs: number;
  drainedMs: number | undefined;
  bridgeCpuMs: number;
  fakesCpuMs: number;
  redis?: { cpuMs: number; commands: number; calls: Record<string, number> };
  duplicates: number;
}

/**
 * Issue 15: the relay's sustained throughput (mailbox → 10 nodes, 10,000 envelopes, as
 * `relay.throughput_envelopes_per_s`) against one bridge process on the file store and then
 * against three replica processes on one Redis, in the same run on the same machine (the
 * replicas share its cores), in `ROUNDS` rounds. The goal is the ratio: three replicas ≥ 0.8 ×
 * one process.
 */
export async function throughputBenchmarks(): Promise<BenchResult[]> {
  const rounds: { single: Measured; replicas: Measured; ratio: number }[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const single = await measureSingle();
    const replicas = await measureReplicas();
    rounds.push({ single, replicas, ratio: replicas.perSecond / single.perSecond });
  }
  const { single, replicas, ratio } = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(ROUNDS / 2)]!;
  const context = (m: Measured) => ({
    received: m.received,
    notArrived: ENVELOPES - m.received,
    duplicates: m.duplicates,
    lastArrivalMs: round(m.lastArrivalMs),
    drainedMs: m.drainedMs === undefined ? null : round(m.drainedMs),
    bridgeCpuMs: round(m.bridgeCpuMs),
    fakesCpuMs: round(m.fakesCpuMs),
    ...(m.redis
      ? {
          redisCpuMs: round(m.redis.cpuMs),
          redisCommandsPerEnvelope: round(m.redis.commands / ENVELOPES, 1),
          // Which commands (those inside scripts included), per envelope: where the trips go.
          redisCallsPerEnvelope: Object.fromEntries(
            Object.entries(m.redis.calls)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 16)
              .map(([name, n]) => [name, round(n / ENVELOPES, 2)]),
          ),
        }
      : {}),
    bridgeCpuMsPerEnvelope: round(m.bridgeCpuMs / ENVELOPES),
  });
  const shared = {
    rounds: rounds.map((r) => ({
      ratio: round(r.ratio),
      replicasPerS: round(r.replicas.perSecond),
      singlePerS: round(r.single.perSecond),
    })),
    reported: "the round with the median ratio",
    envelopes: ENVELOPES,
    nodes: NODES,
    warmup: WARMUP_ENVELOPES,
    measured: "first write → last agent request received at the fakes (as relay.throughput_envelopes_per_s)",
    ...machine(),
  };
  return [
    {
      name: "ha.throughput_envelopes_per_s",
      value: round(replicas.perSecond),
      unit: "envelopes/s",
      // The goal is on the ratio (next line): the machine decides the absolute figure.
      ratio: round(ratio),
      singleProcessPerS: round(single.perSecond),
      ...context(replicas),
      replicas: 3,
      store: "redis (one local redis-server), state.redis defaults",
      bridgeProcesses: "3 replicas, separate processes; fake gateways in another",
      ...shared,
    },
    atLeast("ha.throughput_ratio", ratio, "ratio", GOAL_RATIO, {
      replicasPerS: round(replicas.perSecond),
      singlePerS: round(single.perSecond),
      single: { ...context(single), store: "file, one bridge process (the relay bench's world)" },
      ...shared,
    }),
  ];
}

/** One bridge process on the file store: the relay bench's world. */
async function measureSingle(): Promise<Measured> {
  const folder = benchFolder("ha-tp-single");
  const fakes = new Child("bench/relay/fakes-process.ts", [fakesSpec()]);
  let bridge: Child | undefined;
  try {
    const { urls } = await fakes.ready;
    const configPath = writeConfig(folder.base, {
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [...nodes.map((name) => ({ name, url: urls[name], token: "${NODE_TOKEN}" })), { name: SENDER }],
      mailbox: { root: folder.root, watch: "native" },
      relay: { mirrorToChat: false, budget: BENCH_BUDGET, outboxPerNode: 20_000 },
      state: { dir: folder.stateDir },
      log: { level: "warn" },
    });
    bridge = new Child("bench/relay/bridge-process.ts", [configPath], { env: { NODE_TOKEN: GATEWAY_TOKEN } });
    await bridge.ready;
    const child = bridge;
    return await measure({
      inbox: folder.inbox,
      arrivals: new ArrivalLog(fakes),
      pending: async () => (await child.call({ type: "stats" }, "stats")).pending,
      cpuMs: async () => (await child.call({ type: "stats" }, "stats")).cpuMs,
    });
  } finally {
    await bridge?.stop(2_000);
    await fakes.stop();
    folder.remove();
  }
}

/** Three replicas on one Redis; what is pending is read from Redis (each outbox's `:ids` hash). */
async function measureReplicas(): Promise<Measured> {
  const world = await HaWorld.start({ label: "ha-tp-replicas", nodes, replicas: 3 });
  try {
    for (const slot of world.slots) await world.startReplica(slot);
    await world.waitSettled(SETTLE_MS);
    const targets = [...nodes, "_mailbox", "_chat"];
    return await measure({
      inbox: world.folder.inbox,
      arrivals: new ArrivalLog(world.fakes),
      pending: async () => {
        const pipeline = world.redis.pipeline();
        for (const target of targets) pipeline.hlen(`${KEY_PREFIX}outbox:${target}:ids`);
        const replies = (await pipeline.exec()) ?? [];
        return replies.reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
      },
      redisUsage: async () => {
        const [cpu, stats, commandStats] = await Promise.all([
          world.redis.info("cpu"),
          world.redis.info("stats"),
          world.redis.info("commandstats"),
        ]);
        const calls: Record<string, number> = {};
        for (const [, name, n] of commandStats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm))
          calls[name!] = Number(n);
        const field = (text: string, name: string) =>
          Number(new RegExp(`${name}:([\\d.]+)`).exec(text)?.[1] ?? 0);
        return {
          cpuMs: (field(cpu, "used_cpu_sys") + field(cpu, "used_cpu_user")) * 1000,
          commands: field(stats, "total_commands_processed"),
          calls,
        };
      },
      cpuMs: async () => {
        const stats = await Promise.all(
          world.slots.map((slot) => slot.child!.call({ type: "stats" }, "stats")),
        );
        return stats.reduce((sum, s) => sum + s.cpuMs, 0);
      },
    });
  } finally {
    await world.close();
  }
}

async function measure(side: Side): Promise<Measured> {
  // The warm-up also waits for every gateway connection (the outboxes hold the lines till then).
  const warm = await run(side, "warm", WARMUP_ENVELOPES, WARMUP_TIMEOUT_MS);
  if (warm.received < WARMUP_ENVELOPES) {
    throw new Error(`warm-up: ${warm.received} of ${WARMUP_ENVELOPES} envelopes reached the fakes`);
  }
  side.arrivals.clear();
  const measured = await run(side, "run", ENVELOPES, RUN_TIMEOUT_MS);
  return {
    ...measured,
    perSecond: measured.received / (measured.lastArrivalMs / 1000),
    duplicates: side.arrivals.duplicates,
  };
}

/** As bench/relay/throughput.ts: whole lines, 10 per write, round-robin over the inboxes. */
async function run(side: Side, tag: string, count: number, timeoutMs: number) {
  const { keys, batches } = throughputWorkload({
    tag,
    count,
    nodes: NODES,
    linesPerWrite: LINES_PER_WRITE,
    sender: SENDER,
    nodeName,
    inbox: side.inbox,
  });
  await side.arrivals.drain();
  const cpuBefore = await side.cpuMs();
  const fakesBefore = side.arrivals.fakesCpuMs;
  const redisBefore = await side.redisUsage?.();
  const t0 = epochMs();
  for (const { file, text } of batches) appendFileSync(file, text);

  let drainedAt: number | undefined;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    await sleep(POLL_MS);
    await side.arrivals.drain();
    if (side.arrivals.has(keys) && (await side.pending()) === 0) {
      drainedAt = epochMs();
      break;
    }
  }
  let last = t0;
  let received = 0;
  for (const key of keys) {
    const arrival = side.arrivals.first.get(key);
    if (!arrival) continue;
    received++;
    last = Math.max(last, arrival.at);
  }
  const redisAfter = await side.redisUsage?.();
  return {
    received,
    lastArrivalMs: last - t0,
    drainedMs: drainedAt === undefined ? undefined : drainedAt - t0,
    bridgeCpuMs: (await side.cpuMs()) - cpuBefore,
    fakesCpuMs: side.arrivals.fakesCpuMs - fakesBefore,
    ...(redisBefore && redisAfter
      ? {
          redis: {
            cpuMs: redisAfter.cpuMs - redisBefore.cpuMs,
            commands: redisAfter.commands - redisBefore.commands,
            calls: Object.fromEntries(
              Object.entries(redisAfter.calls).map(([name, n]) => [name, n - (redisBefore.calls[name] ?? 0)]),
            ),
          },
        }
      : {}),
  };
}

function fakesSpec(): string {
  return JSON.stringify({
    token: GATEWAY_TOKEN,
    nodes: nodes.map((name) => ({ name, script: { kind: "text", text: "收到", chunks: 1, delayMs: 0 } })),
  });
}
