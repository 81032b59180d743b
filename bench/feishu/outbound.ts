import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../../src/core/index.js";
import { FeishuAdapter } from "../../src/feishu/feishu-adapter.js";
import { DEFAULT_OUTBOUND_LIMITS } from "../../src/feishu/outbound/index.js";
import { DEFAULT_LIMITS, startFeishuEmulator } from "../../src/sim/feishu/index.js";
import { atLeast, round, type BenchResult } from "../lib/report.js";
import { within } from "../lib/within.js";

const CHATS = 10;
const PER_CHAT = 30;
/** The emulator's default limits (Feishu's): 5 sends per chat, 50 calls per app, in any sliding second. */
const PER_CHAT_QPS = DEFAULT_LIMITS.sendPerChatQps;
const WINDOW_MS = 1_000;
/**
 * With 5 starts per sliding second, message n (1-based) of a chat can start at
 * (ceil(n / 5) − 1) s: the 30th at 5 s. Zero-latency sends make that the whole run.
 */
const THEORETICAL_MIN_MS = (Math.ceil(PER_CHAT / PER_CHAT_QPS) - 1) * WINDOW_MS;
/** One message every 1000 / 5 ms, evenly spaced: the 30th done at 6 s. */
const NAIVE_MIN_MS = (PER_CHAT / PER_CHAT_QPS) * WINDOW_MS;
const WARMUP_ROUNDS = 3;
/** Bound of the measured run; the theoretical minimum is 5 s. */
const RUN_TIMEOUT_MS = 30_000;

/**
 * 300 texts to 10 chats (30 each), enqueued at once through the adapter's `OutboundQueue`,
 * the real SDK over HTTP to the emulator at its default limits: theoretical minimum ÷ time
 * from the first enqueue to the last send resolved.
 */
export async function outboundBenchmarks(): Promise<BenchResult[]> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "clawbridge-bench-outbound-"));
  const emu = await startFeishuEmulator();
  const { appId, appSecret } = emu.bridge;
  // Not started: the outbound side needs no intake (and start's bot info call would use app quota).
  const adapter = new FeishuAdapter({
    config: { appId, appSecret, domain: emu.url, mode: "websocket", chats: [], locale: "en" },
    stateDir,
    logger: silentLogger(),
  });
  try {
    const chats = Array.from({ length: CHATS }, (_, i) =>
      emu.createChat({ name: `bench outbound ${i}`, members: ["bridge"] }),
    );

    await warmUp();
    // This emulator's tenant token, then one message to each of CHATS warm-up chats at once,
    // so the keep-alive pool holds as many open sockets as the run has lanes; then every
    // window (the emulator's and the queue's own) empties before measuring.
    const warmChats = Array.from({ length: CHATS }, (_, i) =>
      emu.createChat({ name: `bench outbound warm-up ${i}`, members: ["bridge"] }),
    );
    await adapter.outbound.send({ chatId: warmChats[0]!, content: { kind: "text", text: "token" } });
    await Promise.all(
      warmChats.map((chatId) =>
        adapter.outbound.send({ chatId, content: { kind: "text", text: "sockets" } }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const before = adapter.outbound.stats();

    const expected = new Map(
      chats.map((chatId, c) => [
        chatId,
        Array.from({ length: PER_CHAT }, (_, i) => `chat ${c} message ${i}`),
      ]),
    );
    const callsBefore = emu.calls.length;
    const start = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < PER_CHAT; i++) {
      for (const [chatId, texts] of expected) {
        sends.push(adapter.outbound.send({ chatId, content: { kind: "text", text: texts[i]! } }));
      }
    }
    const settled = await within(Promise.allSettled(sends), RUN_TIMEOUT_MS, "the sends to settle");
    const durationMs = performance.now() - start;
    const after = adapter.outbound.stats();

    // Which limit the queue tripped, by Feishu code (230020 per chat, 99991400 app-wide).
    const refusedByCode: Record<string, number> = {};
    for (const call of emu.calls.slice(callsBefore)) {
      if (call.status !== 200) refusedByCode[String(call.code)] = (refusedByCode[String(call.code)] ?? 0) + 1;
    }
    let lost = 0;
    let orderKept = true;
    for (const [chatId, texts] of expected) {
      const posted = emu
        .messages(chatId)
        .filter((m) => m.senderAppId === appId && m.origin === "api")
        .map((m) => m.text);
      lost += Math.max(0, texts.length - posted.length);
      if (posted.length !== texts.length || posted.some((text, i) => text !== texts[i])) orderKept = false;
    }
    return [
      atLeast("feishu.outbound_efficiency", THEORETICAL_MIN_MS / durationMs, "ratio", 0.85, {
        durationMs: round(durationMs, 1),
        theoreticalMinMs: THEORETICAL_MIN_MS,
        naiveMinMs: NAIVE_MIN_MS,
        messages: sends.length,
        chats: CHATS,
        perChatQps: PER_CHAT_QPS,
        appQps: DEFAULT_LIMITS.appQps,
        failed: settled.filter((s) => s.status === "rejected").length,
        lost,
        orderKept,
        rateLimited: after.rateLimited - before.rateLimited,
        retries: after.retries - before.retries,
        refusedByCode,
        pacingMarginMs: DEFAULT_OUTBOUND_LIMITS.pacingMarginMs,
      }),
    ];
  } finally {
    await adapter.stop({ drainMs: 1_000 });
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/**
 * JIT warm-up of the whole send path (queue, SDK, HTTP, emulator) against an emulator
 * without limits, so the measured run does not pay for compilation in its first burst.
 */
async function warmUp(): Promise<void> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "clawbridge-bench-outbound-warm-"));
  const emu = await startFeishuEmulator({ limits: { sendPerChatQps: Infinity, appQps: Infinity } });
  const { appId, appSecret } = emu.bridge;
  const adapter = new FeishuAdapter({
    config: { appId, appSecret, domain: emu.url, mode: "websocket", chats: [], locale: "en" },
    stateDir,
    logger: silentLogger(),
    limits: { perChatQps: 1_000_000, appQps: 1_000_000 },
  });
  try {
    const chats = Array.from({ length: CHATS }, (_, i) =>
      emu.createChat({ name: `warm-up ${i}`, members: ["bridge"] }),
    );
    for (let round = 0; round < WARMUP_ROUNDS; round++) {
      await within(
        Promise.all(
          chats.flatMap((chatId) =>
            Array.from({ length: PER_CHAT }, (_, i) =>
              adapter.outbound.send({ chatId, content: { kind: "text", text: `warm-up ${round} ${i}` } }),
            ),
          ),
        ),
        RUN_TIMEOUT_MS,
        "the warm-up sends",
      );
    }
  } finally {
    await adapter.stop({ drainMs: 1_000 });
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
