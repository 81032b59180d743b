import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach } from "vitest";
import { startBridge, type RunningBridge, type StartOptions } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import type { FakeGateway, FakeGatewayOptions } from "../../src/sim/fake-gateway.js";
import type { FeishuEmulator, Person } from "../../src/sim/feishu/index.js";
import { fakeGateway, GATEWAY_TOKEN } from "./gateway.js";
import { feishuEmulator, testLogger } from "./feishu.js";
import { tempDir } from "./temp.js";

const running: RunningBridge[] = [];
afterEach(async () => {
  for (const bridge of running.splice(0)) await bridge.stop(5_000);
});

export interface BridgeWorld {
  emu: FeishuEmulator;
  gateways: { "ai-pc": FakeGateway; "office-mac": FakeGateway };
  root: string;
  stateDir: string;
  configPath: string;
  env: NodeJS.ProcessEnv;
  /** A person in the group whose open_id is in access.dispatchers. */
  wang: Person;
  /** A person who may not dispatch. */
  li: Person;
  /** The office-mac node's own bot in the group. */
  officeBot: ReturnType<FeishuEmulator["addBot"]>;
  auditChat: string;
}

export interface BridgeWorldOptions {
  relay?: Record<string, unknown>;
  hearsBots?: boolean;
  /** `feishu.locale` (default "en"). */
  locale?: "en" | "zh-CN";
  /** More options for a fake gateway (e.g. `requirePairing`, `pairingTtlMs`, `script`). */
  gateways?: Partial<Record<"ai-pc" | "office-mac", Partial<FakeGatewayOptions>>>;
  /**
   * Changes the config before it is written (e.g. `access.admins`, `nodes[0].tags`,
   * `tasks`); it receives the people so open_ids can be filled in.
   */
  configure?: (config: WorldConfig, people: { emu: FeishuEmulator; wang: Person; li: Person }) => void;
}

/** The world's config as `configure` may change it (written as JSON, then loaded). */
export interface WorldConfig {
  feishu: Record<string, unknown>;
  nodes: Record<string, unknown>[];
  relay: Record<string, unknown>;
  access: { dispatchers: string[]; admins?: string[]; agents?: string[] };
  [key: string]: unknown;
}

/**
 * The scenario world: the Feishu emulator with the group, two fake OpenClaw gateways
 * (ai-pc, office-mac) and a mailbox-only node (nas-agent), a temp shared folder and a
 * config file for them, secrets in the environment only.
 */
export async function bridgeWorld(options: BridgeWorldOptions = {}): Promise<BridgeWorld> {
  const emu = await feishuEmulator();
  const wang = emu.addPerson({ name: "小王" });
  const li = emu.addPerson({ name: "小李" });
  const officeBot = emu.addBot({ name: "Office 助手" });
  emu.addMembers(emu.defaultChat, [wang, li, officeBot]);
  const auditChat = emu.createChat({ name: "audit", members: ["bridge", wang] });
  const gateways = {
    "ai-pc": await fakeGateway({
      script: { kind: "text", text: "benchmark 跑完了：42 it/s", chunks: 2, delayMs: 2 },
      ...options.gateways?.["ai-pc"],
    }),
    "office-mac": await fakeGateway({
      script: { kind: "text", text: "收到，谢谢", chunks: 1, delayMs: 1 },
      ...options.gateways?.["office-mac"],
    }),
  };
  const dir = tempDir("clawbridge-world-");
  const root = path.join(dir, "shared");
  const stateDir = path.join(dir, "state");
  mkdirSync(path.join(root, "messages"), { recursive: true });
  const config: WorldConfig = {
    feishu: {
      appId: emu.bridge.appId,
      appSecret: "${FEISHU_APP_SECRET}",
      domain: emu.url,
      chats: [emu.defaultChat, auditChat],
      locale: options.locale ?? "en",
    },
    http: { host: "127.0.0.1", port: 0 },
    ops: { host: "127.0.0.1", port: 0 },
    nodes: [
      {
        name: "ai-pc",
        displayName: "AI电脑",
        url: gateways["ai-pc"].url,
        token: "${AI_PC_TOKEN}",
        bot: { name: "AI-PC 助手", hearsBots: options.hearsBots ?? false },
      },
      {
        name: "office-mac",
        url: gateways["office-mac"].url,
        token: "${OFFICE_MAC_TOKEN}",
        bot: { unionId: officeBot.unionId, name: "Office 助手" },
      },
      { name: "nas-agent" },
    ],
    mailbox: { root, watch: "native" },
    relay: { auditChat, ...options.relay },
    access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
    state: { dir: stateDir },
    log: { level: "debug" },
  };
  options.configure?.(config, { emu, wang, li });
  const configPath = path.join(dir, "clawbridge.json5");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = {
    FEISHU_APP_SECRET: emu.bridge.appSecret,
    AI_PC_TOKEN: GATEWAY_TOKEN,
    OFFICE_MAC_TOKEN: GATEWAY_TOKEN,
  };
  return { emu, gateways, root, stateDir, configPath, env, wang, li, officeBot, auditChat };
}

/** Starts the bridge in this process on the world's config; stopped after the test. */
export async function startWorldBridge(
  world: BridgeWorld,
  options: Pick<StartOptions, "replay" | "clock" | "health"> = {},
) {
  const loaded = loadConfig({ path: world.configPath, env: world.env });
  const { logger, sink } = testLogger([world.emu.bridge.appSecret]);
  const bridge = await startBridge(loaded, { ...options, logger });
  running.push(bridge);
  return { bridge, sink };
}
