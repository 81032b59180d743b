import { FsMailboxStore } from "../../src/mailbox/index.js";
import { benchFolder } from "../lib/fixture.js";
import { atLeast, type BenchResult } from "../lib/report.js";

/** Sequential appends through the locked appender (lock file, newline check, one write, unlock). */
export async function appendBenchmarks(): Promise<BenchResult[]> {
  const dir = benchFolder("append");
  try {
    const store = new FsMailboxStore({ root: dir.root, self: "clawbridge", stateDir: dir.stateDir });
    const send = (i: number) =>
      store.append({ from: "office-mac", to: "ai-pc", type: "message", content: `第 ${i} 条` });
    for (let i = 0; i < 200; i++) await send(i); // warm-up: the I/O thread starts, code is compiled
    const count = 5_000;
    const started = performance.now();
    for (let i = 0; i < count; i++) await send(i);
    const seconds = (performance.now() - started) / 1000;
    return [
      atLeast("mailbox.append_lines_per_s", count / seconds, "lines/s", 2_000, {
        lines: count,
        sequential: true,
      }),
    ];
  } finally {
    dir.remove();
  }
}
