// One bridge replica on the Redis store in a process of its own, so it can be SIGKILLed:
// `replica-process <config> <log file>` (forked with IPC by `Child`; the Redis URL comes in
// the environment). Logs at info to the file (role changes, with times, for reading a slow
// failover after the run). Its `ready` carries the replica id under `urls.replica`; it
// answers `stats` (the relay's outboxes as this replica sees them, memory, CPU) and `stop`.
import { createWriteStream } from "node:fs";
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/core/index.js";
import { cpuMs, serve } from "../relay/ipc.js";

const MB = 1024 * 1024;

const [configPath, logFile] = process.argv.slice(2) as [string, string];
const loaded = loadConfig({ path: configPath, env: process.env });
const logger = createLogger({
  level: "info",
  pretty: false,
  name: "clawbridge",
  destination: createWriteStream(logFile, { flags: "a" }),
});
const bridge = await startBridge(loaded, { logger });
const replica = bridge.replica;
if (!replica) throw new Error("replica-process: the config must use the Redis store");

const ready = serve(async (command) => {
  switch (command.type) {
    case "stats": {
      const memory = process.memoryUsage();
      const outboxes = bridge.relay.stats();
      return {
        id: command.id,
        type: "stats" as const,
        pending: Object.values(outboxes).reduce((sum, o) => sum + o.pending, 0),
        outboxes,
        rssMb: memory.rss / MB,
        heapUsedMb: memory.heapUsed / MB,
        heapTotalMb: memory.heapTotal / MB,
        externalMb: memory.external / MB,
        arrayBuffersMb: memory.arrayBuffers / MB,
        peakRssMb: memory.rss / MB,
        maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
        cpuMs: cpuMs(),
        // The task layer runs on whichever replica holds "tasks"; the HA benches do not read it.
        tasks: { kept: 0, open: 0, lastSeq: 0 },
      };
    }
    case "stop":
      await bridge.stop(5_000);
      return { id: command.id, type: "stopped" };
    default:
      throw new Error(`replica-process: unknown command ${command.type}`);
  }
});
ready({ type: "ready", urls: { bridge: bridge.url, ops: bridge.opsUrl, replica: replica.id } });
