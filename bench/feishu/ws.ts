import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../../src/core/index.js";
import { FeishuAdapter } from "../../src/feishu/feishu-adapter.js";
import type { InboundChatMessage } from "../../src/feishu/types.js";
import {
  startFeishuEmulator,
  type DeliveryResult,
  type FeishuEmulator,
  type Person,
} from "../../src/sim/feishu/index.js";
import { atMost, latencyContext, percentile, round, type BenchResult } from "../lib/report.js";
import { within } from "../lib/within.js";

const WARMUP_EVENTS = 200;
const MEASURED_EVENTS = 1_500;
/** Open loop: one event every this many ms, whether or not the previous one has arrived. */
const SPACING_MS = 6;
/** How long to wait for stragglers after the last event before counting them lost. */
const SETTLE_MS = 3_000;
const FIRST_EVENT_TIMEOUT_MS = 10_000;

let sequence = 0;

/**
 * Emulator → SDK `WSClient` (long connection, pbbp2 frames) → `FeishuAdapter` intake →
 * `onMessage`: milliseconds from just before `emu.say` to the handler being called. The
 * emulator and the adapter share this process, so both clocks are one `performance.now()`.
 */
export async function wsBenchmarks(): Promise<BenchResult[]> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "clawbridge-bench-ws-"));
  const emu = await startFeishuEmulator();
  const { appId, appSecret } = emu.bridge;
  const adapter = new FeishuAdapter({
    config: { appId, appSecret, domain: emu.url, mode: "websocket", chats: [], locale: "en" },
    stateDir,
    logger: silentLogger(),
  });
  /** messageId → performance.now() just before `say`, until the handler sees it. */
  const sentAt = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  let samples: number[] = [];
  let unmatched = 0;
  const onMessage = (message: InboundChatMessage): void => {
    const now = performance.now();
    const at = sentAt.get(message.messageId);
    if (at === undefined) {
      unmatched++;
      return;
    }
    sentAt.delete(message.messageId);
    samples.push(now - at);
    waiters.get(message.messageId)?.();
  };
  try {
    await adapter.start({ onMessage });
    const person = emu.addPerson({ name: "bench-person" });
    const chatId = emu.createChat({ name: "bench ws", members: [person, "bridge"] });

    // The emulator holds events until the client's first ping: measure only after one
    // event has made the whole trip.
    const first = say(emu, chatId, person, sentAt);
    await within(
      new Promise<void>((resolve) => waiters.set(first.messageId, resolve)),
      FIRST_EVENT_TIMEOUT_MS,
      "the first event to reach the handler",
    );
    waiters.clear();

    await openLoop(emu, chatId, person, sentAt, WARMUP_EVENTS);
    sentAt.clear();
    samples = [];
    unmatched = 0;

    const { acks } = await openLoop(emu, chatId, person, sentAt, MEASURED_EVENTS);
    const lost = sentAt.size;
    const ackMs = acks.flatMap((a) => (a.via === "websocket" && a.code === 200 ? [a.ms] : []));
    const stats = adapter.health().intakeStats;
    return [
      atMost("feishu.ws_event_to_handler_p99_ms", percentile(samples, 99), "ms", 20, {
        ...latencyContext(samples),
        sent: MEASURED_EVENTS,
        received: samples.length,
        lost,
        unmatched,
        spacingMs: SPACING_MS,
        warmup: WARMUP_EVENTS,
        ackedP99Ms: round(percentile(ackMs, 99)),
        notAcked: acks.length - ackMs.length,
        duplicatesDropped: stats.duplicates,
        transport: "websocket (SDK WSClient, pbbp2 frames)",
        sameProcess: true,
      }),
    ];
  } finally {
    await adapter.stop({ drainMs: 1_000 });
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

function say(
  emu: FeishuEmulator,
  chatId: string,
  person: Person,
  sentAt: Map<string, number>,
): { messageId: string; delivered: Promise<DeliveryResult> } {
  // Distinct text per event: the intake drops the same text from the same sender within 10 s.
  const i = sequence++;
  const at = performance.now();
  const emitted = emu.say(chatId, person, `第 ${i} 条：请帮我跑一下 benchmark`, { mentions: ["bridge"] });
  sentAt.set(emitted.messageId, at);
  return emitted;
}

/**
 * `count` events, one every `SPACING_MS` (open loop), then waits until all have reached the
 * handler or `SETTLE_MS` has passed since the last one; whatever is still in `sentAt` is lost.
 */
async function openLoop(
  emu: FeishuEmulator,
  chatId: string,
  person: Person,
  sentAt: Map<string, number>,
  count: number,
): Promise<{ acks: DeliveryResult[] }> {
  const delivered: Promise<DeliveryResult>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * SPACING_MS - performance.now();
    if (wait > 1) await sleep(wait);
    delivered.push(say(emu, chatId, person, sentAt).delivered);
  }
  const deadline = performance.now() + SETTLE_MS;
  while (sentAt.size > 0 && performance.now() < deadline) await sleep(10);
  // Every delivery settles by the emulator's ack timeout (3 s) at the latest.
  const acks = await within(Promise.all(delivered), SETTLE_MS + 3_000, "the emulator's acks");
  return { acks };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
