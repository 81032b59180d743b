import type { AddressInfo } from "node:net";
import * as lark from "@larksuiteoapi/node-sdk";
import Koa from "koa";
import { afterEach } from "vitest";
import { createLogger, SecretRegistry, type Logger } from "../../src/core/index.js";
import type { FeishuConfig } from "../../src/config/index.js";
import { FeishuAdapter, type FeishuAdapterOptions, type InboundChatMessage } from "../../src/feishu/index.js";
import {
  startFeishuEmulator,
  type BridgeInfo,
  type FeishuEmulator,
  type FeishuEmulatorOptions,
} from "../../src/sim/feishu/index.js";
import { logSink } from "./log-sink.js";
import { tempDir } from "./temp.js";

const open: { close(): Promise<unknown> }[] = [];

afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

/** A loopback Feishu emulator, closed after the test. */
export async function feishuEmulator(options: FeishuEmulatorOptions = {}): Promise<FeishuEmulator> {
  const emu = await startFeishuEmulator(options);
  open.push(emu);
  return emu;
}

/** A logger for the Feishu SDK that drops every line: tests read the emulator, not the SDK's chatter. */
export const quietLarkLogger = { error() {}, warn() {}, info() {}, debug() {}, trace() {} };

/**
 * The real SDK's API client pointed at the emulator, signed in as the bridge app or as the
 * app whose credentials are given (a node's bot, or deliberately wrong ones).
 */
export function larkClient(
  emu: FeishuEmulator,
  creds: Pick<BridgeInfo, "appId" | "appSecret"> = emu.bridge,
): lark.Client {
  return new lark.Client({
    appId: creds.appId,
    appSecret: creds.appSecret,
    domain: emu.url,
    cache: new lark.DefaultCache(),
    logger: quietLarkLogger,
    loggerLevel: lark.LoggerLevel.error,
  });
}

/** A logger writing to a sink the test can read, with the emulator's secrets registered. */
export function testLogger(secrets: string[] = []): { logger: Logger; sink: ReturnType<typeof logSink> } {
  const sink = logSink();
  const registry = new SecretRegistry();
  for (const secret of secrets) registry.add(secret);
  return {
    logger: createLogger({ destination: sink.stream, secrets: registry, level: "debug", pretty: false }),
    sink,
  };
}

/** The bridge's Feishu config pointing at the emulator. */
export function feishuConfig(emu: FeishuEmulator, overrides: Partial<FeishuConfig> = {}): FeishuConfig {
  return {
    appId: emu.bridge.appId,
    appSecret: emu.bridge.appSecret,
    domain: emu.url,
    mode: "websocket",
    chats: [],
    locale: "en",
    ...overrides,
  };
}

/** A started adapter whose handler records what it receives; stopped after the test. */
export async function feishuAdapter(
  emu: FeishuEmulator,
  options: Partial<Omit<FeishuAdapterOptions, "config">> & { config?: Partial<FeishuConfig> } = {},
) {
  const received: InboundChatMessage[] = [];
  const { logger, sink } = testLogger([emu.bridge.appSecret]);
  const adapter = new FeishuAdapter({
    stateDir: options.stateDir ?? tempDir(),
    logger: options.logger ?? logger,
    ...options,
    config: feishuConfig(emu, options.config),
  });
  open.push({ close: () => adapter.stop({ drainMs: 1_000 }) });
  return { adapter, received, sink };
}

/**
 * The adapter's webhook routes on a real koa listener (loopback, port 0), with the emulator
 * pushing there, signed and encrypted with `encryptKey`. Returns the base URL and a closer.
 */
export async function serveWebhook(
  emu: FeishuEmulator,
  adapter: FeishuAdapter,
  encryptKey: string,
): Promise<{ base: string; close: () => Promise<unknown> }> {
  const app = new Koa();
  app.use(adapter.webhook());
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  emu.useWebhook({
    eventsUrl: `${base}/feishu/events`,
    cardsUrl: `${base}/feishu/cards`,
    encryptKey,
    verificationToken: emu.bridge.verificationToken,
  });
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}
