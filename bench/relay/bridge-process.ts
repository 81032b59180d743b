// The bridge in a process of its own, so its RSS and CPU are its own: `bridge-process <config>`
// (forked with IPC by `Child`; secrets come in the environment). Logs warnings and errors to
// stderr; answers `stats` with the relay's outboxes, the tasks and the process's memory (after
// a full GC when asked and the child runs with `--expose-gc`).
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/core/index.js";
import { isFinalState } from "../../src/tasks/index.js";
import { cpuMs, serve } from "./ipc.js";

const RSS_SAMPLE_MS = 20;
const MB = 1024 * 1024;

const [configPath] = process.argv.slice(2) as [string];
const loaded = loadConfig({ path: configPath, env: process.env });
const logger = createLogger({ level: "warn", pretty: false, name: "clawbridge" });
const bridge = await startBridge(loaded, { logger });

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_SAMPLE_MS);
sampler.unref();

const ready = serve(async (command) => {
  switch (command.type) {
    case "stats": {
      if (command.gc) collectGarbage();
      const memory = process.memoryUsage();
      const rss = memory.rss;
      peakRss = Math.max(peakRss, rss);
      const outboxes = bridge.relay.stats();
      const answer = {
        id: command.id,
        type: "stats" as const,
        pending: Object.values(outboxes).reduce((sum, o) => sum + o.pending, 0),
        outboxes,
        rssMb: rss / MB,
        heapUsedMb: memory.heapUsed / MB,
        heapTotalMb: memory.heapTotal / MB,
        externalMb: memory.external / MB,
        arrayBuffersMb: memory.arrayBuffers / MB,
        peakRssMb: peakRss / MB,
        maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
        cpuMs: cpuMs(),
        tasks: taskCounts(),
      };
      if (command.resetPeak) peakRss = rss;
      return answer;
    }
    case "stop":
      clearInterval(sampler);
      await bridge.stop(5_000);
      return { id: command.id, type: "stopped" };
    default:
      throw new Error(`bridge-process: unknown command ${command.type}`);
  }
});
ready({ type: "ready", urls: { bridge: bridge.url, ops: bridge.opsUrl } });

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("bridge-process: stats with gc needs --expose-gc");
  // Twice: the first pass may only run finalizers that free more on the second.
  gc();
  gc();
}

function taskCounts(): { kept: number; open: number; lastSeq: number } {
  const kept = bridge.tasks.service.list(Number.MAX_SAFE_INTEGER);
  return {
    kept: kept.length,
    open: kept.filter((task) => !isFinalState(task.state)).length,
    lastSeq: kept[0]?.seq ?? 0,
  };
}
