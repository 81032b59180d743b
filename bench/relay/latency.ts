import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startBridge, type RunningBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { startFeishuEmulator, type FeishuEmulator, type Person } from "../../src/sim/feishu/index.js";
import { benchFolder } from "../lib/fixture.js";
import { atMost, epochMs, latencyContext, percentile, round, type BenchResult } from "../lib/report.js";
import { Child, cpuMs, sleep } from "./ipc.js";
import { ArrivalLog, BENCH_BUDGET, countingLogger, GATEWAY_TOKEN, machine, writeConfig } from "./world.js";

/** The pattern: one event every 100 ms (open loop: whether or not the last one has arrived). */
const SPACING_MS = 100;
const WARMUP_EVENTS = 10;
const MEASURED_EVENTS = 205;
/** How long to wait for stragglers after the last event before counting them lost. */
const SETTLE_MS = 3_000;
const FIRST_EVENT_TIMEOUT_MS = 15_000;
const GOAL_MS = 30;

/** One event fired: the key its `agent` request will carry, and when it was fired (epoch ms). */
interface Fired {
  key: string;
  at: number;
}

interface World {
  emu: FeishuEmulator;
  fakes: Child;
  arrivals: ArrivalLog;
  bridge: RunningBridge;
  wang: Person;
  inbox: (node: string) => string;
  warnings: () => number;
  lastWarnings: string[];
  close: () => Promise<void>;
}

/**
 * The scenario world of test/helpers/bridge.ts, for benchmarks: the Feishu emulator (its
 * rate limits lifted, so posts at 10/s never queue), two fake gateways (ai-pc,
 * office-mac) in a process of their own, a mailbox-only node, a temp shared folder, a
 * config file with secrets in the environment, and the bridge in this process.
 */
async function latencyWorld(): Promise<World> {
  const folder = benchFolder("relay");
  const emu = await startFeishuEmulator({
    limits: { sendPerChatQps: Infinity, patchPerMessageQps: Infinity, appQps: Infinity },
  });
  const fakes = new Child("bench/relay/fakes-process.ts", [
    JSON.stringify({
      token: GATEWAY_TOKEN,
      nodes: [
        { name: "ai-pc", script: { kind: "text", text: "benchmark 跑完了：42 it/s", chunks: 2, delayMs: 2 } },
        { name: "office-mac", script: { kind: "text", text: "收到，谢谢", chunks: 1, delayMs: 1 } },
      ],
    }),
  ]);
  let bridge: RunningBridge | undefined;
  try {
    const { urls } = await fakes.ready;
    const wang = emu.addPerson({ name: "小王" });
    const officeBot = emu.addBot({ name: "Office 助手" });
    emu.addMembers(emu.defaultChat, [wang, officeBot]);
    const auditChat = emu.createChat({ name: "audit", members: ["bridge", wang] });
    const configPath = writeConfig(folder.base, {
      feishu: {
        appId: emu.bridge.appId,
        appSecret: "${FEISHU_APP_SECRET}",
        domain: emu.url,
        chats: [emu.defaultChat, auditChat],
        locale: "en",
      },
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [
        {
          name: "ai-pc",
          displayName: "AI电脑",
          url: urls["ai-pc"],
          token: "${AI_PC_TOKEN}",
          bot: { name: "AI-PC 助手" },
        },
        {
          name: "office-mac",
          url: urls["office-mac"],
          token: "${OFFICE_MAC_TOKEN}",
          bot: { unionId: officeBot.unionId, name: "Office 助手" },
        },
        { name: "nas-agent" },
      ],
      mailbox: { root: folder.root, watch: "native" },
      relay: { auditChat, budget: BENCH_BUDGET },
      access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
      state: { dir: folder.stateDir },
      log: { level: "warn" },
    });
    const env = {
      FEISHU_APP_SECRET: emu.bridge.appSecret,
      AI_PC_TOKEN: GATEWAY_TOKEN,
      OFFICE_MAC_TOKEN: GATEWAY_TOKEN,
    };
    const log = countingLogger([emu.bridge.appSecret, GATEWAY_TOKEN]);
    bridge = await startBridge(loadConfig({ path: configPath, env }), { logger: log.logger });
    const running = bridge;
    return {
      emu,
      fakes,
      arrivals: new ArrivalLog(fakes),
      bridge,
      wang,
      inbox: folder.inbox,
      warnings: log.warnings,
      lastWarnings: log.last,
      close: async () => {
        await running.stop(5_000);
        await fakes.stop();
        await emu.close();
        folder.remove();
      },
    };
  } catch (error) {
    await bridge?.stop(5_000);
    await fakes.stop();
    await emu.close();
    folder.remove();
    throw error;
  }
}

/**
 * One route's latency: a first event that must make the whole trip (everything connected),
 * `WARMUP_EVENTS` that are not counted, then `MEASURED_EVENTS`, one every `SPACING_MS`.
 * A sample is the `agent` request's arrival at the fake (`received[].at`) minus the moment
 * the event was fired; what has not arrived `SETTLE_MS` after the last event is lost.
 */
async function measure(world: World, fire: (tag: string) => Promise<Fired>) {
  const { arrivals } = world;
  const first = await fire("first");
  const arrived = await arrivals.until(() => arrivals.first.has(first.key), FIRST_EVENT_TIMEOUT_MS);
  if (!arrived) throw new Error(`the first event (${first.key}) never reached the fake gateway`);
  await openLoop(world, fire, "warm", WARMUP_EVENTS);
  arrivals.clear();
  const warningsBefore = world.warnings();
  // Whether this process (the bridge's) was kept waiting: a late timer while it was mostly idle
  // means the CPU went to other processes (tail latencies on a busy machine).
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const cpuBefore = cpuMs();
  const wallBefore = performance.now();
  delay.enable();
  const { sent } = await openLoop(world, fire, "run", MEASURED_EVENTS);
  delay.disable();
  const cpuShare = (cpuMs() - cpuBefore) / (performance.now() - wallBefore);
  const samples: number[] = [];
  for (const { key, at } of sent) {
    const arrival = arrivals.first.get(key);
    if (arrival) samples.push(arrival.at - at);
  }
  return {
    samples,
    context: {
      ...latencyContext(samples),
      sent: sent.length,
      lost: sent.length - samples.length,
      overGoal: samples.filter((ms) => ms > GOAL_MS).length,
      duplicates: arrivals.duplicates,
      spacingMs: SPACING_MS,
      warmup: WARMUP_EVENTS,
      warnings: world.warnings() - warningsBefore,
      // monitorEventLoopDelay counts from its 10 ms resolution: subtract it for the lateness.
      eventLoopDelayP99Ms: round(Math.max(0, delay.percentile(99) / 1e6 - 10)),
      eventLoopDelayMaxMs: round(Math.max(0, delay.max / 1e6 - 10)),
      bridgeProcessCpu: `${Math.round(cpuShare * 100)}%`,
    },
  };
}

async function openLoop(world: World, fire: (tag: string) => Promise<Fired>, round: string, count: number) {
  const fired: Promise<Fired>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * SPACING_MS - performance.now();
    if (wait > 1) await sleep(wait);
    fired.push(fire(`${round}-${i}`));
  }
  const sent = await Promise.all(fired);
  const keys = sent.map((s) => s.key);
  await world.arrivals.until(() => world.arrivals.has(keys), SETTLE_MS, 25);
  return { sent };
}

let runTag = 0;

/** Mailbox → node: a seed line appended to `to-ai-pc.jsonl` (native watch) → ai-pc's `agent` request. */
function appendToInbox(world: World): (tag: string) => Promise<Fired> {
  const file = world.inbox("ai-pc");
  const prefix = `bench-${process.pid}-${runTag++}`;
  return async (tag) => {
    const key = `${prefix}-${tag}`;
    const line = JSON.stringify({
      id: key,
      from: "office-mac",
      to: "ai-pc",
      timestamp: "2026-02-14T18:40:00+08:00",
      type: "message",
      content: `第 ${tag} 条消息：请帮我跑一下 benchmark 并把结果告诉我`,
    });
    const at = epochMs();
    appendFileSync(file, `${line}\n`);
    return { key, at };
  };
}

/** Person → node: a dispatcher's `/tell ai-pc …` (an emulator event) → ai-pc's `agent` request. */
function tellInGroup(world: World): (tag: string) => Promise<Fired> {
  return async (tag) => {
    // Distinct text per event: the intake drops the same text from the same sender within 10 s.
    const text = `/tell ai-pc 第 ${tag} 条：今天 GPU 利用率怎么样？`;
    const at = epochMs();
    const { messageId } = world.emu.say(world.emu.defaultChat, world.wang, text, { mentions: ["bridge"] });
    return { key: `fs-${messageId}`, at };
  };
}

/**
 * Node ↔ node in the group: office-mac's agent says "@AI-PC 助手 …" in its Feishu group
 * session (`sayInGroup`, one chunk, no delay, timed in the fakes' process just before the
 * call) → ai-pc's `agent` request, both clocks the fakes' process's.
 */
function sayInGroup(world: World): (tag: string) => Promise<Fired> {
  return async (tag) => {
    const { runId, at } = await world.fakes.call(
      {
        type: "say",
        node: "office-mac",
        chatId: world.emu.defaultChat,
        text: `@AI-PC 助手 第 ${tag} 次：帮我看一下训练日志`,
      },
      "said",
    );
    return { key: `ob-office-mac-${runId}-ai-pc`, at };
  };
}

/** The three route latencies of issue 7, in one world (one bridge), one route after the other. */
export async function latencyBenchmarks(): Promise<BenchResult[]> {
  const world = await latencyWorld();
  try {
    const mailbox = await measure(world, appendToInbox(world));
    const group = await measure(world, tellInGroup(world));
    const observe = await measure(world, sayInGroup(world));
    const shared = {
      bridge: "this process (with the Feishu emulator)",
      fakeGateways: "separate process (both nodes)",
      feishuLimits: "lifted (posts at 10/s would otherwise queue)",
      perPairPerMinute: BENCH_BUDGET.perPairPerMinute,
      ...machine(),
    };
    const p99 = (samples: number[]) => percentile(samples, 99);
    return [
      atMost("relay.mailbox_to_gateway_p99_ms", p99(mailbox.samples), "ms", GOAL_MS, {
        ...mailbox.context,
        ...shared,
        watch: "native",
        clocks: "append in this process, arrival in the fakes' process (performance.timeOrigin + now)",
      }),
      atMost("relay.group_to_gateway_p99_ms", p99(group.samples), "ms", GOAL_MS, {
        ...group.context,
        ...shared,
        transport: "emulator long connection (SDK WSClient)",
      }),
      atMost("relay.observe_to_gateway_p99_ms", p99(observe.samples), "ms", GOAL_MS, {
        ...observe.context,
        ...shared,
        clocks: "sayInGroup call and arrival, both in the fakes' process",
      }),
    ];
  } finally {
    if (world.warnings() > 0)
      process.stderr.write(`relay bench warnings: ${world.lastWarnings.join("\n")}\n`);
    await world.close();
  }
}
