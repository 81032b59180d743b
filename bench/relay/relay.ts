import type { BenchResult } from "../lib/report.js";
import { latencyBenchmarks } from "./latency.js";
import { throughputBenchmarks } from "./throughput.js";

/** Issue 7 §6: the three route latencies (one bridge in this process), then throughput (bridge in its own process). */
export async function relayBenchmarks(): Promise<BenchResult[]> {
  return [...(await latencyBenchmarks()), ...(await throughputBenchmarks())];
}
