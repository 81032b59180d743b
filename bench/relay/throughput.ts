import { appendFileSync } from "node:fs";
import { benchFolder } from "../lib/fixture.js";
import { atLeast, epochMs, round, type BenchResult } from "../lib/report.js";
import { Child, sleep } from "./ipc.js";
import { ArrivalLog, BENCH_BUDGET, GATEWAY_TOKEN, machine, writeConfig } from "./world.js";
import { throughputWorkload } from "./throughput-workload.js";

const NODES = 10;
const ENVELOPES = 10_000;
const WARMUP_ENVELOPES = 500;
/** Whole lines per write: one `appendFileSync` puts this many lines into one inbox. */
const LINES_PER_WRITE = 10;
/** The sender: a mailbox-only node, so answers go to its inbox (no second gateway delivery). */
const SENDER = "nas-agent";
/**
 * Deliveries and drain must be over by then, or the run counts what it has (the suite must
 * stay under 2 minutes even when the goal is missed by far).
 */
const RUN_TIMEOUT_MS = 20_000;
const WARMUP_TIMEOUT_MS = 10_000;
const POLL_MS = 25;
const GOAL_PER_S = 2_000;

const nodeName = (k: number) => `node-${k}`;

/**
 * Mailbox → 10 nodes, sustained: `ENVELOPES` seed lines written to the 10 inboxes as fast as
 * the bench can (whole lines, `LINES_PER_WRITE` per write, round-robin), measured from the
 * first write to the last `agent` request received by the fakes; how long until every
 * outbox was empty (answers written to the sender's inbox) is reported too. The bridge runs
 * in a process of its own (its RSS is `relay.rss_mb`), the 10 fake gateways in another.
 */
export async function throughputBenchmarks(): Promise<BenchResult[]> {
  const folder = benchFolder("relay-tp");
  const nodes = Array.from({ length: NODES }, (_, k) => nodeName(k));
  const fakes = new Child("bench/relay/fakes-process.ts", [
    JSON.stringify({
      token: GATEWAY_TOKEN,
      nodes: nodes.map((name) => ({ name, script: { kind: "text", text: "收到", chunks: 1, delayMs: 0 } })),
    }),
  ]);
  let bridge: Child | undefined;
  try {
    const { urls } = await fakes.ready;
    const configPath = writeConfig(folder.base, {
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [...nodes.map((name) => ({ name, url: urls[name], token: "${NODE_TOKEN}" })), { name: SENDER }],
      mailbox: { root: folder.root, watch: "native" },
      // No Feishu, no auditChat, no mirroring to a chat: this measures the relay, not Feishu's 5 QPS.
      relay: { mirrorToChat: false, budget: BENCH_BUDGET, outboxPerNode: 20_000 },
      state: { dir: folder.stateDir },
      log: { level: "warn" },
    });
    bridge = new Child("bench/relay/bridge-process.ts", [configPath], { env: { NODE_TOKEN: GATEWAY_TOKEN } });
    await bridge.ready;
    const atReady = await bridge.call({ type: "stats" }, "stats");
    const arrivals = new ArrivalLog(fakes);

    // Warm-up, which also waits for every gateway connection (the outboxes hold the lines till then).
    const warm = await run(bridge, arrivals, folder.inbox, "warm", WARMUP_ENVELOPES, WARMUP_TIMEOUT_MS);
    if (warm.received < WARMUP_ENVELOPES) {
      throw new Error(`warm-up: ${warm.received} of ${WARMUP_ENVELOPES} envelopes reached the fakes`);
    }
    arrivals.clear();
    await bridge.call({ type: "stats", resetPeak: true }, "stats");
    const measured = await run(bridge, arrivals, folder.inbox, "run", ENVELOPES, RUN_TIMEOUT_MS);
    const perSecond = measured.received / (measured.lastArrivalMs / 1000);
    const context = {
      envelopes: ENVELOPES,
      received: measured.received,
      notArrived: ENVELOPES - measured.received,
      timedOut: measured.drainedMs === undefined,
      runTimeoutMs: RUN_TIMEOUT_MS,
      duplicates: arrivals.duplicates,
      nodes: NODES,
      sender: `${SENDER} (mailbox-only: one session, so one lane, per node)`,
      measured: "first write → last agent request received at the fakes",
      writeMs: round(measured.writeMs),
      lastArrivalMs: round(measured.lastArrivalMs),
      drainedMs: measured.drainedMs === undefined ? null : round(measured.drainedMs),
      drainedPerS: measured.drainedMs === undefined ? null : round(ENVELOPES / (measured.drainedMs / 1000)),
      linesPerWrite: LINES_PER_WRITE,
      warmup: WARMUP_ENVELOPES,
      chat: "off (no feishu, no auditChat, mirrorToChat false)",
      perPairPerMinute: BENCH_BUDGET.perPairPerMinute,
      outboxPerNode: "20000 (the default 1000 is this burst's whole share per node)",
      bridgeCpuMs: round(measured.bridgeCpuMs),
      fakesCpuMs: round(measured.fakesCpuMs),
      bridge: "separate process",
      fakeGateways: "separate process (all 10)",
      ...machine(),
    };
    return [
      atLeast("relay.throughput_envelopes_per_s", perSecond, "envelopes/s", GOAL_PER_S, context),
      {
        name: "relay.rss_mb",
        value: round(measured.peakRssMb, 1),
        unit: "MB",
        rssAtReadyMb: round(atReady.rssMb, 1),
        rssAtStartMb: round(measured.startRssMb, 1),
        heapUsedAtEndMb: round(measured.heapUsedMb, 1),
        lifetimeMaxRssMb: round(measured.maxRssMb, 1),
        sampledEveryMs: 20,
        during: `the ${ENVELOPES}-envelope run, bridge process only (it runs from source through tsx)`,
      },
    ];
  } finally {
    // Graceful stop is not what this measures; a bridge still busy with a backlog is killed.
    await bridge?.stop(2_000);
    await fakes.stop();
    folder.remove();
  }
}

async function run(
  bridge: Child,
  arrivals: ArrivalLog,
  inbox: (node: string) => string,
  tag: string,
  count: number,
  timeoutMs: number,
) {
  const { keys, batches } = throughputWorkload({
    tag,
    count,
    nodes: NODES,
    linesPerWrite: LINES_PER_WRITE,
    sender: SENDER,
    nodeName,
    inbox: inbox,
  });
  await arrivals.drain();
  const before = await bridge.call({ type: "stats" }, "stats");
  const fakesCpuBefore = arrivals.fakesCpuMs;
  const t0 = epochMs();
  for (const { file, text } of batches) appendFileSync(file, text);
  const writeMs = epochMs() - t0;

  let drainedAt: number | undefined;
  let stats = before;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    await sleep(POLL_MS);
    await arrivals.drain();
    stats = await bridge.call({ type: "stats" }, "stats");
    if (arrivals.has(keys) && stats.pending === 0) {
      drainedAt = epochMs();
      break;
    }
  }
  let last = t0;
  let received = 0;
  for (const key of keys) {
    const arrival = arrivals.first.get(key);
    if (!arrival) continue;
    received++;
    last = Math.max(last, arrival.at);
  }
  return {
    received,
    writeMs,
    lastArrivalMs: last - t0,
    drainedMs: drainedAt === undefined ? undefined : drainedAt - t0,
    startRssMb: before.rssMb,
    peakRssMb: stats.peakRssMb,
    maxRssMb: stats.maxRssMb,
    heapUsedMb: stats.heapUsedMb,
    bridgeCpuMs: stats.cpuMs - before.cpuMs,
    fakesCpuMs: arrivals.fakesCpuMs - fakesCpuBefore,
  };
}
