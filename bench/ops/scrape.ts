import { appendFileSync } from "node:fs";
import { benchFolder } from "../lib/fixture.js";
import { atMost, latencyContext, percentile, round, type BenchResult } from "../lib/report.js";
import { Child, sleep } from "../relay/ipc.js";
import { BENCH_BUDGET, GATEWAY_TOKEN, machine, writeConfig } from "../relay/world.js";

const NODES = 50;
/** Lines written to each node's inbox first, so every node has envelope and latency series. */
const LINES_PER_NODE = 10;
const WARMUP_SCRAPES = 20;
const SCRAPES = 200;
const READY_TIMEOUT_MS = 30_000;
const DELIVERED_TIMEOUT_MS = 60_000;
const GOAL_MS = 20;

/**
 * `ops.metrics_scrape_ms`: a bridge in a process of its own with 50 nodes, each behind a fake
 * gateway (another process), after 500 deliveries so every node has its series (envelopes,
 * latency histograms, gateway, pairing, node health). Then 200 scrapes of `GET /metrics` one
 * after another, each timed from request to the last byte; the value is their p99.
 */
export async function scrapeBenchmarks(): Promise<BenchResult[]> {
  const folder = benchFolder("ops-scrape");
  const names = Array.from({ length: NODES }, (_, k) => `node-${k}`);
  const fakes = new Child("bench/relay/fakes-process.ts", [
    JSON.stringify({
      token: GATEWAY_TOKEN,
      nodes: names.map((name) => ({ name, script: { kind: "text", text: "ok", chunks: 1, delayMs: 1 } })),
    }),
  ]);
  let bridge: Child | undefined;
  try {
    const { urls } = await fakes.ready;
    const configPath = writeConfig(folder.base, {
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: names.map((name) => ({ name, url: urls[name], token: "${NODE_TOKEN}", tags: ["gpu"] })),
      mailbox: { root: folder.root, watch: "native" },
      relay: { mirrorToChat: false, budget: BENCH_BUDGET },
      state: { dir: folder.stateDir },
      log: { level: "warn" },
    });
    bridge = new Child("bench/relay/bridge-process.ts", [configPath], { env: { NODE_TOKEN: GATEWAY_TOKEN } });
    const { urls: bridgeUrls } = await bridge.ready;
    const ops = bridgeUrls.ops!;
    await until(
      async () => (await gaugeSum(ops, "clawbridge_gateway_up")) === NODES,
      READY_TIMEOUT_MS,
      "every gateway up",
    );

    for (const [k, name] of names.entries()) {
      let text = "";
      for (let i = 0; i < LINES_PER_NODE; i++) {
        text += `${JSON.stringify({
          id: `scrape-${process.pid}-${k}-${i}`,
          from: names[(k + 1) % NODES],
          to: name,
          timestamp: "2026-02-14T18:40:00+08:00",
          type: "message",
          content: `第 ${i} 条`,
        })}\n`;
      }
      appendFileSync(folder.inbox(name), text);
    }
    await until(
      async () =>
        (await gaugeSum(ops, 'clawbridge_envelopes_total{route="gateway"')) >= NODES * LINES_PER_NODE,
      DELIVERED_TIMEOUT_MS,
      "every line delivered",
    );

    let body = "";
    for (let i = 0; i < WARMUP_SCRAPES; i++) body = await (await fetch(`${ops}/metrics`)).text();
    const samples: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const started = performance.now();
      body = await (await fetch(`${ops}/metrics`)).text();
      samples.push(performance.now() - started);
    }
    const series = body.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length;
    return [
      atMost("ops.metrics_scrape_ms", percentile(samples, 99), "ms", GOAL_MS, {
        ...latencyContext(samples),
        mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
        nodes: NODES,
        series,
        bytes: Buffer.byteLength(body),
        ...machine(),
      }),
    ];
  } finally {
    await bridge?.stop();
    await fakes.stop();
    folder.remove();
  }
}

/** The sum of every sample whose line starts with `prefix` (a metric name, or a name and labels). */
async function gaugeSum(ops: string, prefix: string): Promise<number> {
  const text = await (await fetch(`${ops}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`ops bench: timed out waiting for ${what}`);
    await sleep(100);
  }
}
