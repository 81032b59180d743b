import { appendFileSync } from "node:fs";
import { startMailboxAgent, type MailboxAgent } from "../../src/sim/mailbox-agent.js";
import { benchFolder } from "../lib/fixture.js";
import { atMost, round, type BenchResult } from "../lib/report.js";
import { Child, sleep, type StatsAnswer } from "../relay/ipc.js";
import { BENCH_BUDGET, GATEWAY_TOKEN, machine, writeConfig } from "../relay/world.js";

const NODES = 50;
/** Nodes with a (fake) gateway, tagged `gpu`; the rest are mailbox-only (`box-0` … `box-39`). */
const GATEWAY_NODES = 10;
const TASKS = 10_000;
/** Every fifth task goes to a mailbox-only node by name (its agent answers through the folder), the rest to `#gpu`. */
const MAILBOX_EVERY = 5;
/** The agent that dispatches: a mailbox-only node, so results go to its inbox (no chat, no gateway). */
const REQUESTER = "box-0";
/** How often the mailbox-only nodes' (simulated) agents look at their inboxes. */
const AGENT_POLL_MS = 100;
/** Task envelopes appended per write, and how many tasks may be open before the next write. */
const LINES_PER_WRITE = 250;
const MAX_OPEN = 1_000;
/**
 * A reading is taken once RSS has settled. V8 gives grown heap pages back only when its
 * memory reducer runs, some seconds after a busy stretch — in each isolate of the process:
 * the bridge's, and (run from source) tsx's module-hooks thread and the lock I/O worker.
 * In trials RSS fell by 40 MB 20–25 s after the start while the bridge's own heap stayed
 * the same (most likely those other isolates). So: readings one a second, each after a full GC, from `min` ms on, until three
 * in a row are within 1 MB; at most `SETTLE_EXTRA_MS` more.
 */
const SETTLE_STEP_MS = 1_000;
const SETTLE_WITHIN_MB = 1;
const SETTLE_READINGS = 3;
const SETTLE_EXTRA_MS = 10_000;
/** Idle: counted from the bridge's start. After the run: counted from its end. */
const IDLE_SETTLE_MS = 28_000;
const AFTER_SETTLE_MS = 15_000;
const READY_TIMEOUT_MS = 20_000;
/** Creating and finishing the 10,000 tasks must be over by then (the suite stays bounded). */
const RUN_TIMEOUT_MS = 90_000;
const POLL_MS = 100;
const GOAL_MB = 40;

const gatewayNode = (k: number) => `gpu-${k}`;
const mailboxNode = (k: number) => `box-${k}`;

/**
 * `tasks.rss_growth_mb` and `tasks.rss_idle_mb`: a bridge with 50 nodes (10 with fake
 * gateways tagged `gpu`, 40 mailbox-only) in a fresh process of its own (`bridge-process`,
 * `--expose-gc`), its fake gateways in another, the mailbox-only nodes' agents
 * (`startMailboxAgent`, box-1 … box-39) in this one. Idle = RSS once started, every gateway
 * online, after a full GC and settled (see `SETTLE_STEP_MS`). Then `box-0`'s agent
 * dispatches 10,000 tasks through the shared folder (`task` envelopes appended to
 * `to-clawbridge.jsonl`, 250 per write, never more than 1,000 open): four in five to
 * `#gpu` (a short two-chunk run on a fake gateway), one in five to a mailbox-only node by
 * name (its agent answers in the folder). Once every task has ended and the outboxes are
 * empty: full GC, settled, RSS again; the growth is the difference.
 */
export async function rssBenchmarks(): Promise<BenchResult[]> {
  const folder = benchFolder("tasks-rss");
  const gpus = Array.from({ length: GATEWAY_NODES }, (_, k) => gatewayNode(k));
  const boxes = Array.from({ length: NODES - GATEWAY_NODES }, (_, k) => mailboxNode(k));
  const fakes = new Child("bench/relay/fakes-process.ts", [
    JSON.stringify({
      token: GATEWAY_TOKEN,
      nodes: gpus.map((name) => ({
        name,
        script: { kind: "text", text: "训练完成：loss=0.031", chunks: 2, delayMs: 1 },
      })),
    }),
  ]);
  let bridge: Child | undefined;
  const agents: MailboxAgent[] = [];
  try {
    const { urls } = await fakes.ready;
    const configPath = writeConfig(folder.base, {
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [
        ...gpus.map((name) => ({
          name,
          url: urls[name],
          token: "${NODE_TOKEN}",
          tags: ["gpu"],
          maxConcurrent: 200,
        })),
        ...boxes.map((name) => ({ name, maxConcurrent: 50 })),
      ],
      mailbox: { root: folder.root, watch: "native" },
      // No Feishu: agents' tasks need no chat, and this measures the task layer's memory.
      relay: { mirrorToChat: false, budget: BENCH_BUDGET, outboxPerNode: 20_000 },
      tasks: { maxQueued: TASKS },
      state: { dir: folder.stateDir },
      log: { level: "warn" },
    });
    const bridgeStarted = performance.now();
    bridge = new Child("bench/relay/bridge-process.ts", [configPath], {
      env: { NODE_TOKEN: GATEWAY_TOKEN },
      execArgv: ["--expose-gc"],
    });
    const { urls: bridgeUrls } = await bridge.ready;
    await allOnline(bridgeUrls.bridge!, gpus);
    for (const node of boxes.slice(1)) {
      agents.push(await startMailboxAgent({ root: folder.root, node, pollMs: AGENT_POLL_MS }));
    }
    const idle = await settled(bridge, bridgeStarted, IDLE_SETTLE_MS);
    await bridge.call({ type: "stats", resetPeak: true }, "stats");

    const started = performance.now();
    const inbox = folder.inbox("clawbridge");
    let written = 0;
    let stats: StatsAnswer = idle;
    const deadline = started + RUN_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (written < TASKS && stats.tasks.open < MAX_OPEN) {
        let text = "";
        for (const end = Math.min(TASKS, written + LINES_PER_WRITE); written < end; written++) {
          text += `${JSON.stringify({
            id: `rss-${process.pid}-${written}`,
            from: REQUESTER,
            to: "clawbridge",
            timestamp: "2026-02-14T18:40:00+08:00",
            type: "task",
            target:
              written % MAILBOX_EVERY === MAILBOX_EVERY - 1
                ? mailboxNode(1 + (Math.floor(written / MAILBOX_EVERY) % (boxes.length - 1)))
                : "#gpu",
            content: `第 ${written} 个任务：跑一轮训练，把 loss 报回来`,
          })}\n`;
        }
        appendFileSync(inbox, text);
      }
      await sleep(POLL_MS);
      stats = await bridge.call({ type: "stats" }, "stats");
      if (written === TASKS && stats.tasks.lastSeq >= TASKS && stats.tasks.open === 0 && stats.pending === 0)
        break;
    }
    const runMs = performance.now() - started;
    const finished = stats.tasks.lastSeq >= TASKS && stats.tasks.open === 0;
    const peak = await bridge.call({ type: "stats" }, "stats");
    const after = await settled(bridge, performance.now(), AFTER_SETTLE_MS);
    const growth = after.rssMb - idle.rssMb;
    const context = {
      nodes: `${NODES} (${GATEWAY_NODES} fake gateways tagged gpu, ${NODES - GATEWAY_NODES} mailbox-only)`,
      tasks: TASKS,
      created: after.tasks.lastSeq,
      openAtEnd: after.tasks.open,
      keptInJournal: after.tasks.kept,
      finished,
      runMs: round(runMs),
      tasksPerS: round(after.tasks.lastSeq / (runMs / 1000)),
      outboxPending: after.pending,
      answeredByMailboxAgents: agents.reduce((sum, agent) => sum + agent.answered(), 0),
      rssIdleMb: round(idle.rssMb, 1),
      rssAfterMb: round(after.rssMb, 1),
      rssAtRunEndMb: round(peak.rssMb, 1),
      peakRssMb: round(peak.peakRssMb, 1),
      heapUsedGrowthMb: round(after.heapUsedMb - idle.heapUsedMb, 1),
      externalGrowthMb: round(after.externalMb - idle.externalMb, 1),
      settleMs: { idle: idle.settleMs, after: after.settleMs },
      settled: { idle: idle.stable, after: after.stable },
      heapUsedIdleMb: round(idle.heapUsedMb, 1),
      heapUsedAfterMb: round(after.heapUsedMb, 1),
      heapTotalIdleMb: round(idle.heapTotalMb, 1),
      heapTotalAfterMb: round(after.heapTotalMb, 1),
      externalIdleMb: round(idle.externalMb, 1),
      externalAfterMb: round(after.externalMb, 1),
      gc: "full GC (--expose-gc) before every reading; each once RSS settled (≥ 28 s after the start / 15 s after the run, then 3 in a row within 1 MB, 1 s apart)",
      bridge: "fresh process (from source through tsx), no Feishu",
      dispatch: `task envelopes from ${REQUESTER} in to-clawbridge.jsonl (1 in ${MAILBOX_EVERY} to a mailbox-only node, the rest #gpu), ${LINES_PER_WRITE} per write, ≤ ${MAX_OPEN} open`,
      ...machine(),
    };
    return [
      atMost("tasks.rss_growth_mb", growth, "MB", GOAL_MB, context),
      {
        name: "tasks.rss_idle_mb",
        value: round(idle.rssMb, 1),
        unit: "MB",
        heapUsedMb: round(idle.heapUsedMb, 1),
        nodes: NODES,
        measured: "bridge process started, every gateway online, full GC, RSS settled",
      },
    ];
  } finally {
    for (const agent of agents) await agent.stop();
    await bridge?.stop(5_000);
    await fakes.stop();
    folder.remove();
  }
}

/** The bridge's stats once RSS has settled (see `SETTLE_STEP_MS`), `min` ms after `from`. */
async function settled(
  bridge: Child,
  from: number,
  min: number,
): Promise<StatsAnswer & { settleMs: number; stable: boolean }> {
  const readings: number[] = [];
  for (;;) {
    await sleep(SETTLE_STEP_MS);
    const stats = await bridge.call({ type: "stats", gc: true }, "stats");
    const elapsed = performance.now() - from;
    readings.push(stats.rssMb);
    const last = readings.slice(-SETTLE_READINGS);
    const stable =
      last.length === SETTLE_READINGS && Math.max(...last) - Math.min(...last) <= SETTLE_WITHIN_MB;
    if ((stable && elapsed >= min) || elapsed >= min + SETTLE_EXTRA_MS) {
      return { ...stats, settleMs: Math.round(elapsed), stable };
    }
  }
}

/** Until `/readyz` reports every gateway node online; an error after `READY_TIMEOUT_MS`. */
async function allOnline(url: string, nodes: readonly string[]): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    const body = (await (await fetch(`${url}/readyz`)).json()) as {
      parts: Record<string, { detail?: string }>;
    };
    const offline = nodes.filter((node) => body.parts[`node:${node}`]?.detail !== "online");
    if (offline.length === 0) return;
    if (performance.now() > deadline) throw new Error(`gateway nodes not online: ${offline.join(", ")}`);
    await sleep(50);
  }
}
