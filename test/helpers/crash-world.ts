import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { FakeGateway } from "../../src/sim/fake-gateway.js";
import type { FeishuEmulator, Person } from "../../src/sim/feishu/index.js";
import { fakeGateway, GATEWAY_TOKEN } from "./gateway.js";
import { feishuEmulator } from "./feishu.js";
import { tempDir } from "./temp.js";

/** Group chats the traffic is spread over (the audit chat comes on top). */
export const CRASH_CHATS = 10;
/** Gateway nodes `node-0` … `node-9`: one per chat's worth of traffic, each its own fake gateway. */
export const CRASH_GATEWAY_NODES = 10;
/** The mailbox-only node: it sends mailbox lines and gets its answers in its inbox. */
export const CRASH_MAILBOX_NODE = "nas-agent";

export interface CrashWorld {
  emu: FeishuEmulator;
  /** Gateway node name → its fake gateway. */
  gateways: Map<string, FakeGateway>;
  nodes: string[];
  /** The group chats that carry `/tell` traffic. */
  chats: string[];
  auditChat: string;
  /** The person in every chat whose open_id is in access.dispatchers. */
  dispatcher: Person;
  dir: string;
  root: string;
  messagesDir: string;
  stateDir: string;
  configPath: string;
  env: NodeJS.ProcessEnv;
}

/**
 * The crash test's world, a larger `bridgeWorld`: the Feishu emulator with ten group chats
 * and an audit chat, ten fake gateways answering "ok" at once (one chunk, no delay), a
 * mailbox-only node, a temp shared folder and a config file, secrets in the environment.
 *
 * Set for volume, and only that (each is said in the config below too):
 * - the emulator's rate limits are off, and its queue of events waiting for a receiver is
 *   large (the bridge is down five times while people keep talking);
 * - `relay.budget.perPairPerMinute` is huge: thousands of mailbox lines between the same
 *   pairs are traffic here, not a loop;
 * - `relay.outboxPerNode` is 5 000, above what one node can have waiting in this test, so
 *   the outbox bound (its overflow notice) is not what is being tested.
 * Mirroring to chat stays on (answers in threads, audit lines): what the crash test checks
 * for Feishu is that none of those is posted twice.
 */
export async function crashWorld(): Promise<CrashWorld> {
  const emu = await feishuEmulator({
    limits: { sendPerChatQps: Infinity, appQps: Infinity },
    maxQueuedEvents: 100_000,
  });
  const dispatcher = emu.addPerson({ name: "调度员" });
  const chats = Array.from({ length: CRASH_CHATS }, (_, i) =>
    emu.createChat({ name: `crash ${i}`, members: ["bridge", dispatcher] }),
  );
  const auditChat = emu.createChat({ name: "audit", members: ["bridge", dispatcher] });
  const nodes = Array.from({ length: CRASH_GATEWAY_NODES }, (_, i) => `node-${i}`);
  const gateways = new Map<string, FakeGateway>();
  for (const node of nodes) {
    gateways.set(node, await fakeGateway({ script: { kind: "text", text: "ok", chunks: 1, delayMs: 0 } }));
  }
  const dir = tempDir("clawbridge-crash-");
  const root = path.join(dir, "shared");
  const messagesDir = path.join(root, "messages");
  const stateDir = path.join(dir, "state");
  mkdirSync(messagesDir, { recursive: true });
  const config = {
    feishu: {
      appId: emu.bridge.appId,
      appSecret: "${FEISHU_APP_SECRET}",
      domain: emu.url,
      chats: [...chats, auditChat],
      locale: "en",
    },
    http: { host: "127.0.0.1", port: 0 },
    ops: { host: "127.0.0.1", port: 0 },
    nodes: [
      ...nodes.map((name) => ({ name, url: gateways.get(name)!.url, token: "${NODE_TOKEN}" })),
      { name: CRASH_MAILBOX_NODE },
    ],
    mailbox: { root, watch: "native" },
    relay: {
      auditChat,
      mirrorToChat: true,
      // Volume, not a loop: see above.
      budget: { perPairPerMinute: 1_000_000, cooldownSeconds: 1 },
      outboxPerNode: 5_000,
    },
    access: { dispatchers: [dispatcher.openIdFor(emu.bridge.appId)] },
    state: { dir: stateDir },
    log: { level: "info" },
  };
  const configPath = path.join(dir, "clawbridge.json5");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = { FEISHU_APP_SECRET: emu.bridge.appSecret, NODE_TOKEN: GATEWAY_TOKEN };
  return {
    emu,
    gateways,
    nodes,
    chats,
    auditChat,
    dispatcher,
    dir,
    root,
    messagesDir,
    stateDir,
    configPath,
    env,
  };
}
