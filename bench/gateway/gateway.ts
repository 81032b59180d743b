import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadOrCreateIdentity, WsGatewayClient } from "../../src/gateway/index.js";
import { startFakeGateway, type FakeGatewayOptions } from "../../src/sim/fake-gateway.js";
import { startServerProcess } from "../lib/process.js";
import { atMost, epochMs, latencyContext, percentile, type BenchResult } from "../lib/report.js";

const TOKEN = "bench-token-not-a-secret";

async function setup(options: Partial<FakeGatewayOptions> = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-bench-gw-"));
  const fake = await startFakeGateway({ token: TOKEN, ...options });
  const client = new WsGatewayClient({
    node: "bench",
    url: fake.url,
    token: TOKEN,
    identity: await loadOrCreateIdentity(dir),
    backoff: { baseMs: 100, maxMs: 2_000 },
  });
  client.start();
  await client.ready(10_000);
  return {
    fake,
    client,
    done: async () => {
      await client.stop();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Our `request` call → the frame's arrival at the fake gateway. */
async function requestOverhead(): Promise<BenchResult> {
  const { fake, client, done } = await setup();
  try {
    const samples: number[] = [];
    for (let i = 0; i < 2_200; i++) {
      const before = fake.received.length;
      const sentAt = epochMs();
      await client.request("health", {});
      const frame = fake.received.slice(before).find((r) => r.frame.method === "health");
      if (i >= 200 && frame) samples.push(frame.at - sentAt); // the first 200 warm up
    }
    return atMost(
      "gateway.request_overhead_p99_ms",
      percentile(samples, 99),
      "ms",
      5,
      latencyContext(samples),
    );
  } finally {
    await done();
  }
}

type TextScript = { kind: "text"; text: string; chunks: number; delayMs: number };

/** The fake's own time for one run: the first chunk goes at once, then one per delay. */
const scriptedMs = (script: TextScript) => (script.chunks - 1) * script.delayMs;

/**
 * A client connected to a fake gateway in a process of its own (it stands in for another
 * computer, so its CPU time is not counted as ours); `use` gets a function starting one run.
 */
async function withRemoteFake<T>(
  script: TextScript,
  use: (run: (key: string) => Promise<{ ok: boolean; ms: number }>) => Promise<T>,
): Promise<T> {
  const { url, child, exited } = await startServerProcess("bench/gateway/fake-gateway-process.ts", [
    TOKEN,
    JSON.stringify(script),
  ]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-bench-gw-"));
  try {
    const client = new WsGatewayClient({
      node: "bench",
      url,
      token: TOKEN,
      identity: await loadOrCreateIdentity(dir),
    });
    client.start();
    await client.ready(10_000);
    const run = (key: string) => {
      const t0 = epochMs();
      return client
        .runAgent({
          prompt: `task ${key}`,
          sessionKey: `agent:main:clawbridge:bench-${key}`,
          idempotencyKey: `bench-${key}`,
        })
        .result.then((result) => ({ ok: result.status === "ok", ms: epochMs() - t0 }));
    };
    try {
      return await use(run);
    } finally {
      await client.stop();
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 200 runs at once over one connection: end-to-end time beyond the fake's scripted delay. */
async function concurrentRuns(): Promise<BenchResult> {
  const script: TextScript = { kind: "text", text: "result of the run", chunks: 3, delayMs: 30 };
  return withRemoteFake(script, async (run) => {
    const round = (name: string, count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => run(`${name}-${i}`)));
    // Two full rounds first: both processes compile their hot paths (JIT) before we measure.
    await round("warm-1", 200);
    await round("warm-2", 200);
    const results = await round(`${Date.now()}`, 200);
    const overhead = results.map((r) => r.ms - scriptedMs(script));
    return atMost("gateway.concurrent_runs_p99_overhead_ms", percentile(overhead, 99), "ms", 100, {
      ...latencyContext(overhead),
      runs: 200,
      completed: results.filter((r) => r.ok).length,
      scriptedMs: scriptedMs(script),
      fake: "separate process",
    });
  });
}

/**
 * One run at a time, many in a row: what the client adds to a single run (request, accept,
 * streamed events, the final answer) beyond the fake's scripted delay.
 */
async function runOverhead(): Promise<BenchResult> {
  const script: TextScript = { kind: "text", text: "result of the run", chunks: 3, delayMs: 10 };
  return withRemoteFake(script, async (run) => {
    const overhead: number[] = [];
    let completed = 0;
    for (let i = 0; i < 600; i++) {
      const result = await run(`single-${Date.now()}-${i}`);
      if (result.ok) completed++;
      if (i >= 100) overhead.push(result.ms - scriptedMs(script)); // the first 100 warm up
    }
    return atMost("gateway.run_overhead_p99_ms", percentile(overhead, 99), "ms", 10, {
      ...latencyContext(overhead),
      completed,
      scriptedMs: scriptedMs(script),
      fake: "separate process",
    });
  });
}

/** The socket is dropped: time until the client is connected again. */
async function reconnect(): Promise<BenchResult> {
  const { fake, client, done } = await setup();
  try {
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      const dropped = epochMs();
      const lost = new Promise<void>((resolve) => {
        const off = client.onState((h) => {
          if (h.state !== "connected") {
            off();
            resolve();
          }
        });
      });
      fake.dropConnections();
      await lost;
      await client.ready(10_000);
      samples.push(epochMs() - dropped);
    }
    return atMost("gateway.reconnect_ms", percentile(samples, 99), "ms", 1_500, latencyContext(samples));
  } finally {
    await done();
  }
}

/** An event sent by the fake → our observation stream. */
async function observeLag(): Promise<BenchResult> {
  const { fake, client, done } = await setup();
  try {
    const samples: number[] = [];
    client.observe((event) => {
      const sentAt = (event.raw as { sentAt?: number }).sentAt;
      if (typeof sentAt === "number") samples.push(epochMs() - sentAt);
    });
    for (let i = 0; i < 1_000; i++) {
      fake.emitEvent("chat", {
        sessionKey: "agent:main:feishu:group:oc_bench",
        runId: `observe-${i}`,
        state: "final",
        message: { role: "assistant", content: [{ type: "text", text: `said ${i}` }], timestamp: Date.now() },
        sentAt: epochMs(),
      });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    return atMost("gateway.observe_lag_p99_ms", percentile(samples, 99), "ms", 5, latencyContext(samples));
  } finally {
    await done();
  }
}

export async function gatewayBenchmarks(): Promise<BenchResult[]> {
  return [
    await requestOverhead(),
    await runOverhead(),
    await concurrentRuns(),
    await reconnect(),
    await observeLag(),
  ];
}
