import { FsMailboxStore, MemoryTailLedger, CallbackQuarantine } from "../../src/mailbox/index.js";
import { finished, spawnTs } from "../../test/helpers/spawn.js";
import { benchFolder } from "../lib/fixture.js";
import { atMost, epochMs, latencyContext, percentile, type BenchResult } from "../lib/report.js";

/**
 * Time from another process's append to the tailer's emit, for one pattern of appends.
 * Returns the latencies in ms and how many lines were still unseen a second after the last append.
 */
async function measure(
  watch: "native" | "poll",
  count: number,
  intervalMs: number,
  jitterMs = 0,
  pollMs = 1000,
) {
  const dir = benchFolder(`notify-${watch}`);
  try {
    const store = new FsMailboxStore({
      root: dir.root,
      self: "clawbridge",
      stateDir: dir.stateDir,
      watch,
      pollMs,
    });
    const latencies: number[] = [];
    const tailer = await store.tail({
      startAt: "start",
      ledger: new MemoryTailLedger(),
      quarantine: new CallbackQuarantine(() => undefined),
      handler: (envelope) => {
        latencies.push(epochMs() - Number(envelope.sentAt));
      },
    });
    const writer = await finished(
      spawnTs("bench/mailbox/line-writer.ts", [
        dir.inbox("ai-pc"),
        String(count),
        String(intervalMs),
        String(jitterMs),
      ]),
    );
    if (writer.code !== 0) throw new Error(`writer failed: ${writer.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const unseen = count - latencies.length;
    await tailer.stop();
    return { latencies, unseen, mode: tailer.watchMode?.mode };
  } finally {
    dir.remove();
  }
}

export async function notifyBenchmarks(): Promise<BenchResult[]> {
  const steady = await measure("native", 1000, 100);
  const burst = await measure("native", 1000, 10);
  const poll = await measure("poll", 200, 137, 60, 250);
  return [
    atMost("mailbox.notify_p99_ms", percentile(steady.latencies, 99), "ms", 20, {
      ...latencyContext(steady.latencies),
      watch: steady.mode,
      intervalMs: 100,
      unseen: steady.unseen,
    }),
    atMost("mailbox.burst_notify_p99_ms", percentile(burst.latencies, 99), "ms", 75, {
      ...latencyContext(burst.latencies),
      watch: burst.mode,
      intervalMs: 10,
    }),
    {
      name: "mailbox.burst_unseen",
      value: burst.unseen,
      unit: "lines",
      goal: "= 0",
      ok: burst.unseen === 0,
      appended: 1000,
    },
    atMost("mailbox.poll_p99_ms", percentile(poll.latencies, 99), "ms", 275, {
      ...latencyContext(poll.latencies),
      watch: poll.mode,
      pollMs: 250,
      unseen: poll.unseen,
    }),
  ];
}
