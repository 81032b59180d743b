import type { BenchResult } from "../lib/report.js";
import { balanceBenchmark } from "./balance.js";
import { failoverBenchmark } from "./failover.js";
import { throughputBenchmarks } from "./throughput.js";

/**
 * Issue 15: several replicas on the Redis store, each in a process of its own, on one local
 * redis-server. Balance (30 nodes, 3 replicas), throughput against one file-store process,
 * then failover (20 SIGKILLs). Every world stops its processes and Redis, also on failure.
 */
export async function haBenchmarks(): Promise<BenchResult[]> {
  const balance = await balanceBenchmark();
  const throughput = await throughputBenchmarks();
  const failover = await failoverBenchmark();
  return [balance, ...throughput, failover];
}
