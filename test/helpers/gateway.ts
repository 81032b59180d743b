import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { createLogger, SecretRegistry } from "../../src/core/index.js";
import {
  DeviceTokenStore,
  loadOrCreateIdentity,
  WsGatewayClient,
  type WsGatewayClientOptions,
} from "../../src/gateway/index.js";
import { startFakeGateway, type FakeGateway, type FakeGatewayOptions } from "../../src/sim/fake-gateway.js";
import { logSink } from "./log-sink.js";
import { tempDir } from "./temp.js";

/** A made-up token, long enough to be redacted by value. */
export const GATEWAY_TOKEN = "fake-gateway-token-0123456789";

const started: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

export async function fakeGateway(options: Partial<FakeGatewayOptions> = {}): Promise<FakeGateway> {
  const fake = await startFakeGateway({ token: GATEWAY_TOKEN, ...options });
  started.push({ stop: () => fake.close() });
  return fake;
}

/** A client with its own state dir, a log sink and a secret registry holding the token; stopped after the test. */
export async function gatewayClient(
  url: string,
  options: Partial<WsGatewayClientOptions> & { stateDir?: string } = {},
) {
  const stateDir = options.stateDir ?? tempDir("clawbridge-client-");
  const sink = logSink();
  const secrets = new SecretRegistry();
  secrets.add(options.token ?? GATEWAY_TOKEN);
  const logger = createLogger({ destination: sink.stream, secrets, level: "debug" });
  const client = new WsGatewayClient({
    node: "ai-pc",
    url,
    token: GATEWAY_TOKEN,
    tokenSource: "AI_PC_TOKEN",
    identity: await loadOrCreateIdentity(stateDir),
    deviceTokens: new DeviceTokenStore(stateDir),
    logger,
    secrets,
    backoff: { baseMs: 50, maxMs: 500 },
    ...options,
  });
  started.push({ stop: () => client.stop() });
  client.start();
  return { client, stateDir, log: sink };
}

export function scratchDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "clawbridge-scratch-"));
}
