import type { RunEnd } from "../relay/ipc.js";
import { sleep } from "../relay/ipc.js";
import { machine } from "../relay/world.js";
import { atMost, latencyContext, percentile, round, type BenchResult } from "../lib/report.js";
import { cardState, maxPatchesPerSecond, openLoop, TaskWorld, type Said } from "./world.js";

/** Five `/run`s a second (open loop), spread over `CHATS` chats. */
const SPACING_MS = 200;
const WARMUP_COMMANDS = 10;
const MEASURED_COMMANDS = 150;
const CHATS = 8;
/** Each run streams `STEPS` deltas `STEP_MS` apart (0.7 s), so the card has several to coalesce. */
const STEPS = 8;
const STEP_MS = 100;
/** After the last command: time for the runs to end and their cards to show it. */
const SETTLE_MS = 10_000;
const FIRST_TIMEOUT_MS = 15_000;
const GOAL_MS = 1_000;
const FINAL_STATES = new Set(["done", "failed", "cancelled", "timed out"]);

const STREAM = Array.from(
  { length: STEPS },
  (_, i) => `第 ${i + 1}/${STEPS} 步：epoch ${i + 1} loss=${(1 / (i + 2)).toFixed(3)}\n`,
).join("");

/**
 * `tasks.card_final_lag_p99_ms`: a task's run ends at ai-pc's fake gateway (timed in the
 * fakes' process right after it sent the final `agent`/`chat` events, `epochMs`) → the
 * task's card at the emulator first showing a final state (the `at` of that patch record,
 * `Date.now()` in this process). Every run streams `STEPS` deltas, so the card is patched
 * while it runs and the outbound queue has to coalesce; the emulator keeps Feishu's limits,
 * 5 patches per second per message included (a patch over it is refused with 230020). The
 * most patches a card took within any 1 s is reported beside it.
 */
export async function cardLagBenchmark(): Promise<BenchResult[]> {
  const world = await TaskWorld.open({
    label: "cards",
    // Feishu's own limits, none lifted (the bridge paces itself below them).
    limits: {},
    script: { kind: "text", text: STREAM, chunks: STEPS, delayMs: STEP_MS },
    chats: CHATS,
    maxConcurrent: 100,
    recordEnds: true,
  });
  const ends = new Map<string, RunEnd>();
  const drainEnds = async () => {
    const { ends: taken } = await world.fakes.call({ type: "ends" }, "ends");
    for (const end of taken) ends.set(end.runId, end);
  };
  try {
    await world.ready();
    const first = world.run(0, `第 0 条：先跑一次 ${process.pid}`);
    if (!(await cardsFinal(world, [first], FIRST_TIMEOUT_MS))) {
      throw new Error("the first task's card never showed its end");
    }
    const warm = await openLoop(WARMUP_COMMANDS, SPACING_MS, (i) => world.run(i, `warm-${i}：训练一轮`));
    await cardsFinal(world, warm, SETTLE_MS);
    const warningsBefore = world.warnings();
    const callsBefore = world.emu.calls.length;
    const said = await openLoop(MEASURED_COMMANDS, SPACING_MS, (i) =>
      world.run(i, `run-${i}：训练一轮，把 loss 发出来`),
    );
    const settled = await cardsFinal(world, said, SETTLE_MS);
    await drainEnds();

    const tasks = world.tasksByCommand();
    const samples: number[] = [];
    const perSecond: number[] = [];
    const finalStates: Record<string, number> = {};
    let noCard = 0;
    let noEnd = 0;
    let notFinal = 0;
    let patches = 0;
    for (const s of said) {
      const task = tasks.get(s.messageId);
      const card = task?.place?.cardMessageId ? world.emu.message(task.place.cardMessageId) : undefined;
      if (!task || !card) {
        noCard++;
        continue;
      }
      const viaApi = card.patches.filter((p) => p.via === "api");
      patches += viaApi.length;
      perSecond.push(maxPatchesPerSecond(viaApi.map((p) => p.at)));
      const end = ends.get(task.envelopeId);
      if (!end) {
        noEnd++;
        continue;
      }
      const shown = viaApi.find((p) => FINAL_STATES.has(cardState(p.content) ?? ""));
      if (!shown) {
        notFinal++;
        continue;
      }
      const state = cardState(shown.content)!;
      finalStates[state] = (finalStates[state] ?? 0) + 1;
      samples.push(shown.at - end.at);
    }
    // Patches Feishu (the emulator) refused for going over 5 per second per message.
    const calls = world.emu.calls.slice(callsBefore);
    const refused = calls.filter((c) => c.method === "PATCH" && c.code === 230020).length;
    const rateLimited = calls.filter((c) => c.code === 230020 || c.code === 99991400).length;
    const maxPerSecond = perSecond.length > 0 ? Math.max(...perSecond) : 0;
    const context = {
      ...latencyContext(samples),
      sent: said.length,
      lost: said.length - samples.length,
      noCard,
      noRunEnd: noEnd,
      cardNotFinal: notFinal,
      settled,
      finalStates,
      overGoal: samples.filter((ms) => ms > GOAL_MS).length,
      deltasPerRun: STEPS,
      deltaSpacingMs: STEP_MS,
      spacingMs: SPACING_MS,
      chats: CHATS,
      warmup: WARMUP_COMMANDS,
      patchesPerCard: round(patches / Math.max(1, perSecond.length), 2),
      maxPatchesPerSecondPerMessage: maxPerSecond,
      patchesRefused230020: refused,
      rateLimitedCalls: rateLimited,
      feishuLimits: "Feishu's (5 patches/s per message, 5 sends/s per chat, 50 calls/s per app)",
      warnings: world.warnings() - warningsBefore,
      measured:
        "run end at the fake (fakes' process, after its final events) → first card patch showing a final state (emulator record, this process)",
      ...machine(),
    };
    return [
      atMost("tasks.card_final_lag_p99_ms", percentile(samples, 99), "ms", GOAL_MS, context),
      atMost("tasks.card_patches_per_s_max", maxPerSecond, "patches/s", 5, {
        cards: perSecond.length,
        p50: percentile(perSecond, 50),
        patchesRefused230020: refused,
        measured: "most API patches one card took within any 1 s window, over the card-lag run",
      }),
    ];
  } finally {
    await world.close();
  }
}

/** Until every command's card shows a final state, bounded; false when some did not in time. */
async function cardsFinal(world: TaskWorld, said: readonly Said[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const waiting = new Set(said.map((s) => s.messageId));
  for (;;) {
    const tasks = world.tasksByCommand();
    for (const messageId of [...waiting]) {
      const cardId = tasks.get(messageId)?.place?.cardMessageId;
      const card = cardId ? world.emu.message(cardId) : undefined;
      if (card && FINAL_STATES.has(cardState(card.content) ?? "")) waiting.delete(messageId);
    }
    if (waiting.size === 0) return true;
    if (performance.now() >= deadline) return false;
    await sleep(100);
  }
}
