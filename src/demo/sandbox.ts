import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { startBridge, type RunningBridge } from "../app.js";
import { loadConfig, type ConfigInput } from "../config/index.js";
import { createLogger, DEFAULT_SELF_NAME, SecretRegistry, type Locale, type Logger } from "../core/index.js";
import { startFakeGateway, type FakeGateway } from "../sim/fake-gateway.js";
import { startFeishuEmulator, type Bot, type FeishuEmulator } from "../sim/feishu/index.js";
import { startMailboxAgent, type MailboxAgent } from "../sim/mailbox-agent.js";
import { takeDemoFolder } from "./folder.js";
import { demoMessages } from "./messages.js";
import { startNodeChannels, type Heard } from "./node-channels.js";
import { openBrowser } from "./open-browser.js";
import {
  AI_PC_PACE,
  aiPcAnswer,
  NAS_PACE,
  nasAnswer,
  OFFICE_PACE,
  officeAnswer,
  scripted,
} from "./scripts.js";
import type { DemoNode, DemoWorld } from "./types.js";
import { demoWebRoutes } from "./web/index.js";

/** The port of the page (the bridge's main listener), as SCENARIOS.md §6 shows it. */
export const DEFAULT_DEMO_PORT = 8787;
/** Where the sandbox keeps its state when not told: next to where it was started, hidden. */
export const DEFAULT_DEMO_STATE_DIR = path.join(".clawbridge", "demo");
/** How long `stop()` lets the bridge finish before the rest is stopped anyway. */
const STOP_TIMEOUT_MS = 5_000;
/** How long office-mac's agent "thinks" before it asks ai-pc in the group (slow on purpose). */
const OFFICE_GROUP_THINK_MS = 700;
/** How long ai-pc's agent takes to answer a direct @mention in the group. */
const AI_PC_GROUP_THINK_MS = 250;

export interface DemoOptions {
  /** The page's port (the bridge's `http.port`); 0 picks a free one. Default 8787. */
  port?: number;
  /** The shared folder; default `<stateDir>/shared` (emptied at every start, unlike one given here). */
  sharedDir?: string;
  /** The sandbox's own folder; default `./.clawbridge/demo`. */
  stateDir?: string;
  /** Language of the people, bots, answers and the bridge's replies. Default zh-CN. */
  locale?: Locale;
  /** Opens the page in the default browser once it answers. */
  open?: boolean;
  logger?: Logger;
}

export interface RunningDemo {
  world: DemoWorld;
  /** The page: `http://127.0.0.1:<port>/demo/`. */
  url: string;
  /** The real bridge the sandbox runs (its relay, tasks, url). */
  bridge: RunningBridge;
  stateDir: string;
  /** The config file the bridge was started from (secrets as `${VAR}` only). */
  configPath: string;
  /** Stops everything it started (bridge, agents, gateways, emulator), then frees its folder. */
  stop(): Promise<void>;
}

/** The secrets of one run: made up now, given to the bridge as environment variables only. */
interface RunSecrets {
  FEISHU_APP_SECRET: string;
  AI_PC_TOKEN: string;
  OFFICE_MAC_TOKEN: string;
}

/**
 * The sandbox (ARCHITECTURE.md `demo/`, SCENARIOS.md §6): the Feishu emulator with one group
 * (a visitor, the bridge's bot and the node bots), two fake OpenClaw gateways with scripted,
 * visibly different agents — ai-pc (#gpu, fast) and office-mac (slow, and when a person
 * @mentions its bot it asks ai-pc in the group, which is the core relay) — a mailbox-only
 * nas-agent answered by the simulated mailbox agent, a shared folder, and the **real**
 * bridge started from a config file through `loadConfig` and `startBridge`, as production
 * does, with its secrets in an environment of their own. The page is served by the bridge.
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const locale = options.locale ?? "zh-CN";
  const t = demoMessages.t(locale);
  const stateDir = path.resolve(options.stateDir ?? DEFAULT_DEMO_STATE_DIR);
  const secrets: RunSecrets = {
    FEISHU_APP_SECRET: newSecret(),
    AI_PC_TOKEN: newSecret(),
    OFFICE_MAC_TOKEN: newSecret(),
  };
  const registry = new SecretRegistry();
  for (const secret of Object.values(secrets)) registry.add(secret);
  const logger =
    options.logger ?? createLogger({ level: "warn", secrets: registry, name: "clawbridge-demo" });

  const folder = await takeDemoFolder(
    stateDir,
    options.sharedDir === undefined ? undefined : path.resolve(options.sharedDir),
    { locale, logger },
  );
  const stops: (() => Promise<unknown>)[] = [() => folder.lock.release()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.warn({ err: error }, "error while stopping the demo");
      }
    }
  };
  try {
    const emulator = await startFeishuEmulator({
      apps: [{ appSecret: secrets.FEISHU_APP_SECRET, botName: "clawbridge" }],
      logger,
    });
    stops.push(() => emulator.close());
    const chatId = emulator.defaultChat;
    const visitor = emulator.addPerson({ name: t("visitor") });
    const aiPcBot = emulator.addBot({ name: t("aiPcBot") });
    const officeBot = emulator.addBot({ name: t("officeBot") });
    emulator.addMembers(chatId, [visitor, aiPcBot, officeBot]);

    const nodeNames = ["ai-pc", "office-mac", "nas-agent"];
    const aiPc = await startFakeGateway({
      token: secrets.AI_PC_TOKEN,
      script: scripted((message) => aiPcAnswer(message, locale), AI_PC_PACE),
      logger,
    });
    stops.push(() => aiPc.close());
    const office = await startFakeGateway({
      token: secrets.OFFICE_MAC_TOKEN,
      script: scripted((message) => officeAnswer(message, locale, nodeNames), OFFICE_PACE),
      logger,
    });
    stops.push(() => office.close());

    // The agents' "thinking" pauses: cleared at stop, so nothing speaks into a closed world.
    const thinking = new Set<NodeJS.Timeout>();
    stops.push(async () => {
      for (const timer of thinking) clearTimeout(timer);
      thinking.clear();
    });
    const speakLater = (ms: number, act: (heard: Heard) => void) => (heard: Heard) => {
      const timer = setTimeout(() => {
        thinking.delete(timer);
        act(heard);
      }, ms);
      thinking.add(timer);
    };
    const channels = await startNodeChannels(
      emulator,
      [
        {
          node: "ai-pc",
          bot: aiPcBot,
          hear: speakLater(AI_PC_GROUP_THINK_MS, (heard) => {
            const answer = aiPcAnswer(heard.text, locale);
            sayAsNode(emulator, aiPc, aiPcBot, heard, answer, answer);
          }),
        },
        {
          node: "office-mac",
          bot: officeBot,
          hear: speakLater(OFFICE_GROUP_THINK_MS, (heard) => {
            // office-mac does not know; it asks ai-pc in the group. Feishu never shows one
            // bot's message to another: the bridge sees it in office-mac's group session
            // and relays it to ai-pc (the core route), then posts ai-pc's answer.
            const question = t("officeAsks", { question: heard.text });
            sayAsNode(emulator, office, officeBot, heard, `@${aiPcBot.name} ${question}`, question, [
              aiPcBot,
            ]);
          }),
        },
      ],
      logger,
    );
    stops.push(() => channels.close());

    const nas: MailboxAgent = await startMailboxAgent({
      root: folder.shared,
      node: "nas-agent",
      self: DEFAULT_SELF_NAME,
      answer: (envelope) => nasAnswer(envelope, locale),
      delayMs: NAS_PACE.delayMs,
      pollMs: NAS_PACE.pollMs,
      logger,
    });
    stops.push(() => nas.stop());

    const config = demoConfig({
      locale,
      port: options.port ?? DEFAULT_DEMO_PORT,
      emulator,
      chatId,
      visitorOpenId: visitor.openIdFor(emulator.bridge.appId),
      gateways: { "ai-pc": aiPc, "office-mac": office },
      bots: { "ai-pc": aiPcBot, "office-mac": officeBot },
      names: { "ai-pc": t("aiPcName"), "office-mac": t("officeName"), "nas-agent": t("nasName") },
      shared: folder.shared,
      bridgeState: folder.bridgeState,
    });
    await writeConfig(folder.configPath, config);
    // The same path as `clawbridge start`: the file, `${VAR}` from an environment, the schema.
    const loaded = loadConfig({ path: folder.configPath, env: { ...secrets }, locale });

    const nodes: DemoNode[] = loaded.config.nodes.map((node) => {
      const bot = node.name === "ai-pc" ? aiPcBot : node.name === "office-mac" ? officeBot : undefined;
      return {
        name: node.name,
        ...(node.displayName ? { displayName: node.displayName } : {}),
        tags: [...node.tags],
        kind: node.url ? "gateway" : "mailbox",
        ...(bot ? { bot } : {}),
      };
    });
    const world: DemoWorld = {
      emulator,
      chatId,
      visitor,
      bridgeBot: emulator.bridgeBot,
      nodes,
      sharedDir: folder.shared,
      locale,
    };
    const web = demoWebRoutes(world);
    const closeWeb = (web as { close?: () => Promise<void> }).close;
    const started: { bridge?: RunningBridge } = {};
    stops.push(async () => {
      // The page's live streams end first: open ones would hold the bridge's listener
      // until its close timeout.
      await closeWeb?.call(web);
      await started.bridge?.stop(STOP_TIMEOUT_MS);
    });
    const bridge = await startBridge(loaded, { logger, routes: [web] });
    started.bridge = bridge;
    const url = `${bridge.url}/demo/`;
    if (options.open) openBrowser(url, logger);
    return {
      world,
      url,
      bridge,
      stateDir,
      configPath: folder.configPath,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function newSecret(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * A node's agent answers in its group session, and its Feishu channel posts that answer as
 * the node's bot (threaded under what it heard): the bridge sees the session through the
 * gateway, people see the post.
 */
function sayAsNode(
  emulator: FeishuEmulator,
  gateway: FakeGateway,
  bot: Bot,
  heard: Heard,
  sessionText: string,
  postText: string,
  mentions: Bot[] = [],
): void {
  try {
    emulator.say(heard.chatId, bot, postText, { mentions, parentId: heard.messageId });
    gateway.sayInGroup({ chatId: heard.chatId, text: sessionText, chunks: 1, delayMs: 0 });
  } catch {
    // The sandbox is stopping (the emulator or gateway is closed): nothing to say any more.
  }
}

interface ConfigParts {
  locale: Locale;
  port: number;
  emulator: FeishuEmulator;
  chatId: string;
  visitorOpenId: string;
  gateways: Record<"ai-pc" | "office-mac", FakeGateway>;
  bots: Record<"ai-pc" | "office-mac", Bot>;
  names: Record<"ai-pc" | "office-mac" | "nas-agent", string>;
  shared: string;
  bridgeState: string;
}

/**
 * The bridge's config for this run, in the production schema: the emulator as the Feishu
 * domain (long connection), the fake gateways as nodes, the visitor as the one dispatcher,
 * relayed traffic mirrored into the group, which is also the audit chat. Secrets are
 * `${VAR}` references, as the schema demands.
 */
function demoConfig(parts: ConfigParts): ConfigInput {
  return {
    feishu: {
      appId: parts.emulator.bridge.appId,
      appSecret: "${FEISHU_APP_SECRET}",
      domain: parts.emulator.url,
      mode: "websocket",
      chats: [parts.chatId],
      locale: parts.locale,
    },
    http: { host: "127.0.0.1", port: parts.port },
    ops: { host: "127.0.0.1", port: 0 },
    nodes: [
      {
        name: "ai-pc",
        displayName: parts.names["ai-pc"],
        url: parts.gateways["ai-pc"].url,
        token: "${AI_PC_TOKEN}",
        tags: ["gpu"],
        maxConcurrent: 2,
        bot: { unionId: parts.bots["ai-pc"].unionId, name: parts.bots["ai-pc"].name },
      },
      {
        name: "office-mac",
        displayName: parts.names["office-mac"],
        url: parts.gateways["office-mac"].url,
        token: "${OFFICE_MAC_TOKEN}",
        tags: ["office"],
        bot: { unionId: parts.bots["office-mac"].unionId, name: parts.bots["office-mac"].name },
      },
      { name: "nas-agent", displayName: parts.names["nas-agent"], tags: ["storage"] },
    ],
    mailbox: { root: parts.shared, self: DEFAULT_SELF_NAME },
    relay: { mirrorToChat: true, auditChat: parts.chatId },
    access: { dispatchers: [parts.visitorOpenId], admins: [], agents: ["*"] },
    state: { dir: parts.bridgeState },
    log: { level: "warn" },
  };
}

async function writeConfig(file: string, config: ConfigInput): Promise<void> {
  const header = [
    "// Written by `clawbridge demo` at every start: the config the sandbox's bridge runs with.",
    "// The same schema as production (config/clawbridge.example.json5); the Feishu domain and the",
    "// gateway URLs are the sandbox's stand-ins on 127.0.0.1, and the secrets exist only in the",
    "// sandbox's own environment. (演示沙盒每次启动时写入的配置；与生产环境同一套格式。)",
  ].join("\n");
  await fs.writeFile(file, `${header}\n${JSON.stringify(config, null, 2)}\n`);
}
