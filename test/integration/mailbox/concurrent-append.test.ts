import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { collector, memoryStore, tailInto, sharedFixture } from "../../helpers/mailbox.js";
import { finished, spawnTs } from "../../helpers/spawn.js";
import { waitFor } from "../../helpers/wait.js";

describe("four processes appending to one inbox at once", () => {
  it("gives 10,000 whole lines, none interleaved or lost, each emitted exactly once", async () => {
    const fx = sharedFixture();
    const store = memoryStore(fx.root, fx.stateDir);
    const c = collector();
    const tailer = await tailInto(store, c);
    const workers = [0, 1, 2, 3].map((w) =>
      finished(spawnTs("test/helpers/append-worker.ts", [fx.root, "ai-pc", String(w), "2500"])),
    );
    const exits = await Promise.all(workers);
    for (const exit of exits) expect(exit, exit.stderr).toMatchObject({ code: 0 });

    const lines = readFileSync(fx.inbox("ai-pc"), "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(10_000);
    const seen = new Set<string>();
    for (const line of lines) {
      const parsed = JSON.parse(line) as { content: string; from: string };
      seen.add(parsed.content);
      expect(parsed.from).toBe(`worker-${parsed.content.split(":")[0]}`);
    }
    expect(seen.size).toBe(10_000);

    await waitFor(() => c.envelopes.length >= 10_000, {
      timeoutMs: 30_000,
      what: "10,000 envelopes emitted",
    });
    await tailer.stop();
    expect(c.envelopes).toHaveLength(10_000);
    expect(new Set(c.ids()).size).toBe(10_000);
    expect(c.quarantined).toEqual([]);
    // Each writer's lines keep their order.
    for (const w of ["0", "1", "2", "3"]) {
      const mine = c
        .contents()
        .filter((content) => content.startsWith(`${w}:`))
        .map((content) => Number(content.split(":")[1]));
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  }, 120_000);
});
