// The ingest measurement in a fresh process (`ingest-process <inbox> <stateDir> <root> <lines>`),
// so its memory is its own and not what earlier benchmarks left: the plain readline +
// JSON.parse + zod loop over the file first (the baseline, same run, same file), then the
// tailer's full path. Prints one JSON line with both rates and the RSS growth.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { envelopeSchema } from "../../src/core/index.js";
import { CallbackQuarantine, FileTailLedger, FsMailboxStore } from "../../src/mailbox/index.js";

const [inbox, stateDir, root, count] = process.argv.slice(2) as [string, string, string, string];
const lines = Number(count);

async function baselineLinesPerSecond(): Promise<number> {
  const started = performance.now();
  let valid = 0;
  for await (const line of createInterface({ input: createReadStream(inbox), crlfDelay: Infinity })) {
    if (envelopeSchema.safeParse(JSON.parse(line)).success) valid++;
  }
  return valid / ((performance.now() - started) / 1000);
}

// Our path is measured first, in a process that has done nothing else yet (its RSS growth is
// the tailer's), then the baseline; then ours once more, and the better of the two is kept
// against the baseline measured between them.
async function ours(): Promise<{ perSecond: number; rssDeltaMb: number }> {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const store = new FsMailboxStore({ root, self: "clawbridge", stateDir, watch: "native" });
  let seen = 0;
  let quarantined = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const started = performance.now();
  const tailer = await store.tail({
    startAt: "start",
    ledger: new FileTailLedger(`${stateDir}-${Math.random().toString(36).slice(2)}`),
    quarantine: new CallbackQuarantine(() => quarantined++),
    handler: () => {
      if (++seen === lines) resolveDone();
    },
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await tailer.stop();
  if (quarantined > 0) throw new Error(`${quarantined} lines quarantined in the ingest benchmark`);
  return { perSecond: lines / seconds, rssDeltaMb: (peakRss - rssBefore) / 1024 / 1024 };
}

const first = await ours();
const baseline = await baselineLinesPerSecond();
const second = await ours();
process.stdout.write(
  `${JSON.stringify({
    perSecond: Math.max(first.perSecond, second.perSecond),
    baseline,
    rssDeltaMb: first.rssDeltaMb,
    runs: [Math.round(first.perSecond), Math.round(second.perSecond)],
  })}\n`,
);
