import type { BenchResult } from "../lib/report.js";
import { cardLagBenchmark } from "./card-lag.js";
import { commandBenchmark } from "./command.js";
import { restartBenchmark } from "./restart.js";
import { rssBenchmarks } from "./rss.js";

/**
 * The task layer's benchmarks, each in a world of its own, one after the other (about 2.5
 * minutes in all): `/run` → the node's gateway (`command_to_run_p99_ms`), a run's end → its
 * card (`card_final_lag_p99_ms`, under Feishu's 5 patches/s per message), the cards after a
 * restart (`restart_reattach_ms`), then memory with 10,000 tasks in a fresh bridge process
 * (`rss_growth_mb`, `rss_idle_mb`). One that throws (a bridge that does not start again, a
 * setup that times out) is reported as a missed goal with its error, and the rest still run.
 */
export async function tasksBenchmarks(): Promise<BenchResult[]> {
  return [
    ...(await guarded(["tasks.command_to_run_p99_ms", "ms", "<= 50"], async () => [
      await commandBenchmark(),
    ])),
    ...(await guarded(["tasks.card_final_lag_p99_ms", "ms", "<= 1000"], cardLagBenchmark)),
    ...(await guarded(["tasks.restart_reattach_ms", "ms", "<= 3000"], async () => [
      await restartBenchmark(),
    ])),
    ...(await guarded(["tasks.rss_growth_mb", "MB", "<= 40"], rssBenchmarks)),
  ];
}

async function guarded(
  [name, unit, goal]: [string, string, string],
  run: () => Promise<BenchResult[]>,
): Promise<BenchResult[]> {
  try {
    return await run();
  } catch (error) {
    process.stderr.write(`${name} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    return [{ name, value: NaN, unit, goal, ok: false, error: String(error).slice(0, 1_000) }];
  }
}
