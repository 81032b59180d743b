// `npm run bench -- --json`: every benchmark, one JSON object per line on stdout.
// Without --json a readable table goes to stderr as well. `--only <prefix>` runs a subset;
// `--soak-seconds N` (or CLAWBRIDGE_SOAK_SECONDS) sets the soak's length (default 300).
import { demoBenchmarks } from "./demo/demo.js";
import { outboundBenchmarks } from "./feishu/outbound.js";
import { webhookBenchmarks } from "./feishu/webhook.js";
import { wsBenchmarks } from "./feishu/ws.js";
import { gatewayBenchmarks } from "./gateway/gateway.js";
import { haBenchmarks } from "./ha/ha.js";
import { appendBenchmarks } from "./mailbox/append.js";
import { ingestBenchmarks } from "./mailbox/ingest.js";
import { notifyBenchmarks } from "./mailbox/notify.js";
import { resumeBenchmarks } from "./mailbox/resume.js";
import { scrapeBenchmarks } from "./ops/scrape.js";
import { relayBenchmarks } from "./relay/relay.js";
import { soakBenchmarks } from "./soak/soak.js";
import { tasksBenchmarks } from "./tasks/tasks.js";
import type { BenchResult } from "./lib/report.js";

const suites: { name: string; run: () => Promise<BenchResult[]> }[] = [
  { name: "mailbox.append", run: appendBenchmarks },
  { name: "mailbox.ingest", run: ingestBenchmarks },
  { name: "mailbox.resume", run: resumeBenchmarks },
  { name: "mailbox.notify", run: notifyBenchmarks },
  { name: "gateway", run: gatewayBenchmarks },
  { name: "feishu.webhook", run: webhookBenchmarks },
  { name: "feishu.ws", run: wsBenchmarks },
  { name: "feishu.outbound", run: outboundBenchmarks },
  { name: "relay", run: relayBenchmarks },
  { name: "tasks", run: tasksBenchmarks },
  { name: "demo", run: demoBenchmarks },
  { name: "ops", run: scrapeBenchmarks },
  { name: "soak", run: () => soakBenchmarks(soakLength) },
  { name: "ha", run: haBenchmarks },
];

const args = process.argv.slice(2);
const json = args.includes("--json");
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;

/** The soak's length: `--soak-seconds N`, else CLAWBRIDGE_SOAK_SECONDS, else 5 minutes. */
function soakSeconds(): number {
  const index = args.indexOf("--soak-seconds");
  const given = index >= 0 ? args[index + 1] : process.env.CLAWBRIDGE_SOAK_SECONDS;
  const seconds = Number(given ?? 300);
  if (!(seconds > 0)) throw new Error(`--soak-seconds must be a positive number, got ${given}`);
  return seconds;
}
const soakLength = soakSeconds();

let failed = 0;
for (const suite of suites) {
  if (only && !suite.name.startsWith(only) && !only.startsWith(suite.name)) continue;
  const results = await suite.run();
  for (const result of results) {
    if (only && !result.name.startsWith(only) && !suite.name.startsWith(only)) continue;
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (result.ok === false) failed++;
    if (!json) {
      process.stderr.write(
        `${result.ok === false ? "✗" : "✓"} ${result.name} = ${result.value} ${result.unit} (goal ${result.goal ?? "—"})\n`,
      );
    }
  }
}
// Benchmarks report; they do not fail the run (CI machines are noisy). `ok` says whether a goal was met.
if (!json) process.stderr.write(`${failed} goal(s) missed\n`);
