import { CallbackQuarantine, FileTailLedger, FsMailboxStore } from "../../src/mailbox/index.js";
import { benchFolder } from "../lib/fixture.js";
import { atMost, type BenchResult } from "../lib/report.js";
import { writeLines } from "./ingest.js";

/** Restart on a ≥ 200 MB inbox whose cursor was persisted at its end: how long, and how much is read. */
export async function resumeBenchmarks(): Promise<BenchResult[]> {
  const dir = benchFolder("resume");
  try {
    const bytes = await writeLines(dir.inbox("ai-pc"), 1_400_000);
    const open = () =>
      new FsMailboxStore({
        root: dir.root,
        self: "clawbridge",
        stateDir: dir.stateDir,
        watch: "native",
      }).tail({
        startAt: "end",
        ledger: new FileTailLedger(dir.stateDir),
        quarantine: new CallbackQuarantine(() => undefined),
        handler: () => {
          throw new Error("nothing should be emitted on resume");
        },
      });
    // First run: starts at the end and persists that cursor on stop.
    await (await open()).stop();
    const started = performance.now();
    const tailer = await open();
    // Resumed = started and the first read of the inbox (rotation check included) is done.
    await tailer.idle();
    const ms = performance.now() - started;
    const bytesRead = tailer.stats().bytesRead;
    await tailer.stop();
    return [
      atMost("mailbox.resume_ms", ms, "ms", 50, { inboxMb: Math.round(bytes / 1e6) }),
      atMost("mailbox.resume_bytes_read", bytesRead, "bytes", 64 * 1024, {
        inboxMb: Math.round(bytes / 1e6),
      }),
    ];
  } finally {
    dir.remove();
  }
}
