// The bridge in a process of its own, so its RSS and CPU are its own: `bridge-process <config>`
// (forked with IPC by `Child`; secrets come in the environment). Logs warnings and errors to
// stderr; answers `stats` with the relay's outboxes and the process's memory.
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/core/index.js";
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
      const rss = process.memoryUsage.rss();
      peakRss = Math.max(peakRss, rss);
      const outboxes = bridge.relay.stats();
      const answer = {
        id: command.id,
        type: "stats" as const,
        pending: Object.values(outboxes).reduce((sum, o) => sum + o.pending, 0),
        outboxes,
        rssMb: rss / MB,
        heapUsedMb: process.memoryUsage().heapUsed / MB,
        peakRssMb: peakRss / MB,
        maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
        cpuMs: cpuMs(),
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
ready({ type: "ready", urls: { bridge: bridge.url } });
