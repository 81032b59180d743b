import { writeFileSync } from "node:fs";
import type { ScriptSource } from "../../src/sim/fake-gateway.js";
import { startFakeGateway, type FakeGateway } from "../../src/sim/fake-gateway.js";
import { startFeishuEmulator, type FeishuEmulator, type Person } from "../../src/sim/feishu/index.js";
import { benchFolder } from "../lib/fixture.js";
import { Child, sleep, type StatsAnswer } from "../relay/ipc.js";
import { BENCH_BUDGET, GATEWAY_TOKEN, writeConfig } from "../relay/world.js";

/** Nodes with a (fake) gateway; ai-pc and gpu-box are tagged `gpu`. */
export const GATEWAY_NODES = ["ai-pc", "office-mac", "gpu-box"] as const;
export type GatewayNode = (typeof GATEWAY_NODES)[number];
export const GPU_NODES: readonly GatewayNode[] = ["ai-pc", "gpu-box"];
/** Mailbox-only nodes: their agents read their own inboxes (nothing answers them here). */
export const MAILBOX_NODES = ["nas-agent", "laptop"] as const;
export type MailboxNode = (typeof MAILBOX_NODES)[number];
/** ai-pc's own bot, as office-mac's agent addresses it in the group. */
export const AI_PC_BOT = "AI-PC 助手";

/** Every envelope the soak sends carries one token; everything it causes repeats it. */
export const TOKEN_PATTERN = /soak-\d{7}/;
export const token = (seq: number) => `soak-${String(seq).padStart(7, "0")}`;
/** In a prompt: the run streams for ~2 s, long enough for its card's Cancel to be pressed. */
export const LONG_RUN_MARK = "[长任务]";
/** In a prompt: a task's run, streamed in three pieces so its card moves through `running`. */
export const TASK_MARK = "[任务]";

const READY_TIMEOUT_MS = 30_000;

/**
 * Every fake agent answers with the token of what it was asked, so answers, mirrors and
 * results can be traced back to the envelope that caused them.
 */
const echoToken: ScriptSource = ({ message }) => {
  const seen = TOKEN_PATTERN.exec(message)?.[0] ?? "?";
  if (message.includes(LONG_RUN_MARK)) {
    return { kind: "text", text: `${seen} 第一步\n第二步\n第三步\n完成`, chunks: 4, delayMs: 500 };
  }
  if (message.includes(TASK_MARK)) {
    return { kind: "text", text: `${seen} 数据已加载\n训练完成：loss=0.031`, chunks: 2, delayMs: 60 };
  }
  return { kind: "text", text: `答复 ${seen}：收到`, chunks: 1, delayMs: 1 };
};

/**
 * The soak's world: the Feishu emulator (Feishu's own rate limits) with `chats` group
 * chats, three fake OpenClaw gateways and the load in this process; two mailbox-only nodes;
 * a temp shared folder and state dir; and the bridge in a process of its own
 * (bench/relay/bridge-process.ts), so its memory is its own and the load's is not counted.
 */
export class SoakWorld {
  private constructor(
    readonly emu: FeishuEmulator,
    readonly fakes: Record<GatewayNode, FakeGateway>,
    readonly wang: Person,
    readonly chats: string[],
    readonly folder: ReturnType<typeof benchFolder>,
    readonly bridge: Child,
    readonly bridgeUrl: string,
    readonly opsUrl: string,
  ) {}

  static async open(options: { label: string; chats: number }): Promise<SoakWorld> {
    const folder = benchFolder(`soak-${options.label}`);
    // Failed long-connection reconnects are retried after 1 s (Feishu says 120 s): a dropped
    // connection is an outage of about a second, not minutes.
    const emu = await startFeishuEmulator({ reconnectIntervalSec: 1 });
    const fakes: Partial<Record<GatewayNode, FakeGateway>> = {};
    let bridge: Child | undefined;
    try {
      for (const node of GATEWAY_NODES) {
        fakes[node] = await startFakeGateway({ token: GATEWAY_TOKEN, script: echoToken });
      }
      const wang = emu.addPerson({ name: "小王" });
      const officeBot = emu.addBot({ name: "Office 助手" });
      const chats = Array.from({ length: options.chats }, (_, k) =>
        emu.createChat({ name: `soak-${k}`, members: ["bridge", wang, officeBot] }),
      );
      const gateway = (node: GatewayNode) => ({
        name: node,
        url: fakes[node]!.url,
        token: "${NODE_TOKEN}",
        maxConcurrent: 100,
        ...(GPU_NODES.includes(node) ? { tags: ["gpu"] } : {}),
      });
      // The inboxes exist already, as in a folder that has been in use.
      for (const node of [...GATEWAY_NODES, ...MAILBOX_NODES, "clawbridge"])
        writeFileSync(folder.inbox(node), "");
      const configPath = writeConfig(folder.base, {
        feishu: {
          appId: emu.bridge.appId,
          appSecret: "${FEISHU_APP_SECRET}",
          domain: emu.url,
          chats,
          locale: "en",
        },
        http: { host: "127.0.0.1", port: 0 },
        ops: { host: "127.0.0.1", port: 0 },
        nodes: [
          { ...gateway("ai-pc"), displayName: "AI电脑", bot: { name: AI_PC_BOT } },
          { ...gateway("office-mac"), bot: { unionId: officeBot.unionId, name: "Office 助手" } },
          gateway("gpu-box"),
          ...MAILBOX_NODES.map((name) => ({ name })),
        ],
        mailbox: { root: folder.root, watch: "native" },
        // No audit chat: one line per mailbox envelope at tens a second would need far more
        // than the 5 posts a second Feishu allows in one chat.
        relay: { budget: BENCH_BUDGET },
        tasks: { maxQueued: 1_000 },
        access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
        state: { dir: folder.stateDir },
        log: { level: "warn" },
      });
      bridge = new Child("bench/relay/bridge-process.ts", [configPath], {
        // Under vitest (the reliability test) the child is no test file: it must not hook into vitest.
        env: { FEISHU_APP_SECRET: emu.bridge.appSecret, NODE_TOKEN: GATEWAY_TOKEN, VITEST: undefined },
      });
      const { urls } = await bridge.ready;
      const world = new SoakWorld(
        emu,
        fakes as Record<GatewayNode, FakeGateway>,
        wang,
        chats,
        folder,
        bridge,
        urls.bridge!,
        urls.ops!,
      );
      await world.ready();
      return world;
    } catch (error) {
      await bridge?.stop();
      for (const fake of Object.values(fakes)) await fake.close();
      await emu.close();
      folder.remove();
      throw error;
    }
  }

  /** Until `/readyz` says every gateway is online and the Feishu long connection is up; bounded. */
  async ready(): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const body = (await (await fetch(`${this.bridgeUrl}/readyz`)).json()) as {
        ready: boolean;
        parts: Record<string, { detail?: string }>;
      };
      const online = GATEWAY_NODES.every((node) => body.parts[`node:${node}`]?.detail === "online");
      if (body.ready && online && this.emu.wsClients() > 0) return;
      if (performance.now() > deadline) throw new Error(`bridge not ready: ${JSON.stringify(body.parts)}`);
      await sleep(50);
    }
  }

  stats(): Promise<StatsAnswer> {
    return this.bridge.call({ type: "stats" }, "stats");
  }

  /** Whether the bridge process is still running (it never crashed). */
  get bridgeAlive(): boolean {
    return this.bridge.process.exitCode === null && this.bridge.process.signalCode === null;
  }

  async close(): Promise<void> {
    await this.bridge.stop(10_000);
    for (const fake of Object.values(this.fakes)) await fake.close();
    await this.emu.close();
    this.folder.remove();
  }
}
