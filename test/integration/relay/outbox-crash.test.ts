import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Outbox } from "../../../src/relay/outbox.js";
import { readJournal } from "../../../src/relay/outbox-journal.js";
import {
  OUTBOX_WORKER_MAX_DELIVERIES,
  OUTBOX_WORKER_TARGETS,
  outboxWorkerInput,
} from "../../helpers/outbox-worker.js";
import { finished, spawnTs } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const KILLS = 6;

function effects(dir: string): string[] {
  const file = path.join(dir, "effects.log");
  if (!existsSync(file)) return [];
  // A line without its newline was cut short by the kill: it does not count.
  return readFileSync(file, "utf8").split("\n").slice(0, -1);
}

describe("outbox killed with SIGKILL while putting and delivering", () => {
  it("loses no put, brings back no done, and repeats only the deliveries a kill interrupted", async () => {
    const started = Date.now();
    const dir = tempDir();
    const seed = Math.floor(Math.random() * 1e9);
    /** How many effects had been written when each kill landed. */
    const killedAt: number[] = [];
    let last: Awaited<ReturnType<typeof finished>> | undefined;
    for (let round = 0; !last; round++) {
      const child = spawnTs("test/helpers/outbox-worker.ts", [dir, String(seed + round)]);
      const exit = finished(child);
      let ready = false;
      let exited = false;
      child.stdout!.on("data", (chunk: Buffer | string) => (ready ||= String(chunk).includes("ready")));
      void exit.then(() => (exited = true));
      await waitFor(() => ready || exited, { what: "worker ready" });
      if (killedAt.length < KILLS) {
        // A random moment: from right after start-up to a few hundred deliveries in.
        const before = effects(dir).length;
        const after = before + Math.floor(Math.random() * 250);
        await waitFor(() => exited || effects(dir).length >= after, { intervalMs: 1, what: "deliveries" });
        await sleep(Math.random() * 3);
        child.kill("SIGKILL");
      }
      const result = await exit;
      expect(result.code === 0 || result.signal === "SIGKILL", `round ${round}: ${result.stderr}`).toBe(true);
      if (result.signal === "SIGKILL") killedAt.push(effects(dir).length);
      else last = result;
      expect(round, "rounds").toBeLessThan(KILLS + 4);
    }
    expect(last.stdout).toContain("finished");
    expect(killedAt.length).toBeGreaterThanOrEqual(5);

    const input = outboxWorkerInput();
    const delivered = effects(dir);
    // Every item delivered at least once.
    expect(new Set(delivered)).toEqual(new Set(input.map((e) => e.id)));

    // Each id done exactly once in the journals, and nothing pending.
    const doneCount = new Map<string, number>();
    for (const target of OUTBOX_WORKER_TARGETS) {
      const outbox = new Outbox({ dir: path.join(dir, "outbox"), target, capacity: 100 });
      await outbox.load();
      expect(outbox.size, target).toBe(0);
      const journal = await readJournal(outbox.file);
      expect(journal).toMatchObject({ torn: false, bad: 0 });
      for (const record of journal.records) {
        if (record.op === "done") doneCount.set(record.id, (doneCount.get(record.id) ?? 0) + 1);
      }
      await outbox.close();
    }
    expect(doneCount.size).toBe(input.length);
    expect([...doneCount.values()].every((n) => n === 1)).toBe(true);

    // A repeated effect is one whose `done` a kill interrupted: among the last few written before it.
    const occurrences = new Map<string, number[]>();
    delivered.forEach((id, index) => occurrences.set(id, [...(occurrences.get(id) ?? []), index]));
    const repeated = [...occurrences].filter(([, at]) => at.length > 1);
    for (const [id, at] of repeated) {
      for (const index of at.slice(0, -1)) {
        const interrupted = killedAt.some(
          (mark) => index < mark && index >= mark - OUTBOX_WORKER_MAX_DELIVERIES,
        );
        expect(interrupted, `${id} delivered again at effect ${index}; kills at ${killedAt.join(", ")}`).toBe(
          true,
        );
      }
    }
    const duplicates = delivered.length - occurrences.size;
    expect(duplicates).toBeLessThanOrEqual(killedAt.length * OUTBOX_WORKER_MAX_DELIVERIES);
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeLessThan(30_000);
    console.log(
      JSON.stringify({
        seed,
        kills: killedAt.length,
        killedAtEffects: killedAt,
        effects: delivered.length,
        duplicates,
        repeatedIds: repeated.length,
        elapsedMs,
        final: JSON.parse(last.stdout.slice(last.stdout.indexOf("finished ") + 9)) as unknown,
      }),
    );
  }, 60_000);
});
