// The bridge in a process of its own, to be killed: `bridge-process <config> <log file> [flags]`.
//
// Runs `startBridge` on the config (secrets from the environment, as `clawbridge start`
// does), appends its JSON log to <log file> (written synchronously: a SIGKILL loses no
// line already logged), prints `ready <url>` once the bridge is up (on the Redis store,
// `replica <id>` just before it), and runs until killed.
// SIGTERM stops it gracefully (exit 0). Flags:
//   --replay           deliver what the inboxes already hold (`clawbridge start --replay`)
//   --relax-outbound   lift the Feishu outbound queue's pacing (5/s per chat, 50/s per app)
//                      for load tests against an emulator whose limits are off. `startBridge`
//                      has no way to pass the FeishuAdapter's `limits`, so this raises the
//                      queue's defaults in this process before the bridge is built.
import pino from "pino";
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger, SecretRegistry } from "../../src/core/index.js";
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from "../../src/feishu/outbound/index.js";

const [configPath, logFile, ...flags] = process.argv.slice(2);
if (!configPath || !logFile) {
  process.stderr.write("usage: bridge-process <config> <log file> [--replay] [--relax-outbound]\n");
  process.exit(64);
}
if (flags.includes("--relax-outbound")) {
  Object.assign(DEFAULT_OUTBOUND_LIMITS as OutboundLimits, { perChatQps: 1_000_000, appQps: 1_000_000 });
}

const loaded = loadConfig({ path: configPath, env: process.env });
const secrets = new SecretRegistry();
for (const secret of loaded.secrets) secrets.add(secret);
const logger = createLogger({
  level: loaded.config.log.level,
  secrets,
  name: "clawbridge",
  pretty: false,
  destination: pino.destination({ dest: logFile, append: true, sync: true, mkdir: true }),
});
logger.info({ pid: process.pid, flags }, "bridge process starting");

const bridge = await startBridge(loaded, {
  replay: flags.includes("--replay"),
  logger,
  onFatal: (reason) => {
    logger.fatal({ reason }, "bridge stopped by itself");
    process.exit(2);
  },
});
if (bridge.replica) process.stdout.write(`replica ${bridge.replica.id}\n`);
process.stdout.write(`ready ${bridge.url}\n`);

process.once("SIGTERM", () => {
  void bridge.stop(10_000).then(() => process.exit(0));
});
