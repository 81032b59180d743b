import http from "node:http";
import { randomBytes } from "node:crypto";
import { startServerProcess } from "../lib/process.js";
import { webhookRequest } from "../../src/sim/feishu/crypto.js";
import { atLeast, atMost, latencyContext, percentile, round, type BenchResult } from "../lib/report.js";

// Made-up secrets for a loopback benchmark.
const ENCRYPT_KEY = `bench-encrypt-${randomBytes(6).toString("hex")}`;
const VERIFICATION_TOKEN = `bench-verify-${randomBytes(6).toString("hex")}`;
const RATE_PER_S = 500;
const OPEN_LOOP_S = 10;
const IN_FLIGHT = 200;
const CLOSED_LOOP_MS = 4_000;

interface Server {
  url: URL;
  stop(): Promise<void>;
}

async function startServer(mode: "ours" | "bare"): Promise<Server> {
  const { url, child, exited } = await startServerProcess("bench/feishu/webhook-server-process.ts", [mode], {
    env: { BENCH_ENCRYPT_KEY: ENCRYPT_KEY, BENCH_VERIFICATION_TOKEN: VERIFICATION_TOKEN },
  });
  return {
    url: new URL("/feishu/events", url),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

let sequence = 0;
/** A signed, encrypted `im.message.receive_v1` push, each with its own event id, message id and text. */
function signedEvent(): { headers: Record<string, string>; body: string } {
  const i = sequence++;
  const payload = {
    schema: "2.0",
    header: {
      event_id: `bench-ev-${i}-${randomBytes(4).toString("hex")}`,
      event_type: "im.message.receive_v1",
      create_time: String(Date.now()),
      token: VERIFICATION_TOKEN,
      app_id: "cli_0123456789abcdef",
      tenant_key: "bench-tenant",
    },
    event: {
      sender: { sender_id: { open_id: "ou_bench_person", union_id: "on_bench_person" }, sender_type: "user" },
      message: {
        message_id: `om_bench_${i}`,
        create_time: String(Date.now()),
        chat_id: "oc_bench_chat",
        chat_type: "group",
        message_type: "text",
        content: JSON.stringify({ text: `@_user_1 第 ${i} 条：请帮我跑一下 benchmark` }),
        mentions: [{ key: "@_user_1", id: { open_id: "ou_bench_bridge" }, name: "clawbridge" }],
      },
    },
  };
  return webhookRequest({ payload, encryptKey: ENCRYPT_KEY });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: URL, request: { headers: Record<string, string>; body: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { ...request.headers, "content-length": Buffer.byteLength(request.body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
}

/** Events offered at a fixed rate whatever the answers do (open loop): ack latency per event. */
async function openLoop(
  server: Server,
  rate: number,
  seconds: number,
): Promise<{ ms: number[]; errors: number }> {
  const total = rate * seconds;
  const requests = Array.from({ length: total }, signedEvent);
  const ms: number[] = [];
  let errors = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Latency counts from when the event was due, so a stalled client cannot hide queueing.
    pending.push(
      post(server.url, requests[i]!).then(
        (status) => {
          if (status === 200) ms.push(performance.now() - due);
          else errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  return { ms, errors };
}

/** `IN_FLIGHT` requests always outstanding for `durationMs`: acked events per second. */
async function closedLoop(server: Server, durationMs: number): Promise<number> {
  const requests = Array.from({ length: 40_000 }, signedEvent);
  let next = 0;
  let acked = 0;
  const deadline = performance.now() + durationMs;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() < deadline && next < requests.length) {
      if ((await post(server.url, requests[next++]!)) === 200) acked++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return acked / ((performance.now() - start) / 1000);
}

export async function webhookBenchmarks(): Promise<BenchResult[]> {
  const ours = await startServer("ours");
  const bare = await startServer("bare");
  try {
    // Warm both processes (JIT, sockets) before measuring.
    await openLoop(ours, RATE_PER_S, 1);
    await closedLoop(bare, 1_000);
    await closedLoop(ours, 1_000);
    const { ms, errors } = await openLoop(ours, RATE_PER_S, OPEN_LOOP_S);
    const oursRps = await closedLoop(ours, CLOSED_LOOP_MS);
    const bareRps = await closedLoop(bare, CLOSED_LOOP_MS);
    return [
      atMost("feishu.webhook_ack_p99_ms", percentile(ms, 99), "ms", 20, {
        ...latencyContext(ms),
        ratePerS: RATE_PER_S,
        seconds: OPEN_LOOP_S,
        errors,
        signed: true,
        encrypted: true,
      }),
      atLeast("feishu.webhook_rps_ratio", oursRps / bareRps, "ratio", 0.5, {
        oursRps: round(oursRps, 0),
        bareRps: round(bareRps, 0),
        inFlight: IN_FLIGHT,
      }),
    ];
  } finally {
    agent.destroy();
    await Promise.all([ours.stop(), bare.stop()]);
  }
}
