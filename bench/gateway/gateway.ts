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

/**
 * 200 runs at once over one connection: end-to-end time beyond the fake's scripted delay.
 * The fake runs in a process of its own (it stands in for another computer).
 */
async function concurrentRuns(): Promise<BenchResult> {
  const script = { kind: "text", text: "result of the run", chunks: 3, delayMs: 30 } as const;
  // The first chunk goes at once, then one per delay.
  const scriptedMs = (script.chunks - 1) * script.delayMs;
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
    const run = async (round: string, count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) => {
          const t0 = epochMs();
          return client
            .runAgent({
              prompt: `task ${i}`,
              sessionKey: `agent:main:clawbridge:bench-${round}-${i}`,
              idempotencyKey: `bench-${round}-${i}`,
            })
            .result.then((result) => ({ ok: result.status === "ok", ms: epochMs() - t0 }));
        }),
      );
    // Two full rounds first: both processes compile their hot paths (JIT) before we measure.
    await run("warm-1", 200);
    await run("warm-2", 200);
    const results = await run(`${Date.now()}`, 200);
    await client.stop();
    const overhead = results.map((r) => r.ms - scriptedMs);
    return atMost("gateway.concurrent_runs_p99_overhead_ms", percentile(overhead, 99), "ms", 20, {
      ...latencyContext(overhead),
      runs: 200,
      completed: results.filter((r) => r.ok).length,
      scriptedMs,
      fake: "separate process",
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
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
  return [await requestOverhead(), await concurrentRuns(), await reconnect(), await observeLag()];
}
