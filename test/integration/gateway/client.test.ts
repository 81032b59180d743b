import { describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import { DeviceTokenStore, type ObservedEvent, type RunEvent } from "../../../src/gateway/index.js";
import { fakeGateway, gatewayClient, GATEWAY_TOKEN } from "../../helpers/gateway.js";
import { sleep, waitFor } from "../../helpers/wait.js";

describe("gateway client against the fake gateway", () => {
  it("a run survives its socket being dropped mid-run: resumed with agent.wait, one run only", async () => {
    const fake = await fakeGateway({
      script: { kind: "text", text: "a long answer in pieces", chunks: 6, delayMs: 60 },
    });
    const { client } = await gatewayClient(fake.url);
    await client.ready();
    const run = client.runAgent({
      prompt: "work",
      sessionKey: "agent:main:clawbridge:drop",
      idempotencyKey: "drop-1",
    });
    const events: RunEvent[] = [];
    run.onEvent((e) => events.push(e));
    await waitFor(() => events.some((e) => e.kind === "delta"), { what: "a first delta" });
    fake.dropConnections();
    const result = await run.result;
    expect(result).toMatchObject({ status: "ok", text: "a long answer in pieces" });
    expect(fake.runs().filter((r) => r.idempotencyKey === "drop-1")).toHaveLength(1);
    expect(fake.received.some((r) => r.frame.method === "agent.wait")).toBe(true);
  });

  it("a request the gateway never answers times out; a silent gateway is declared dead and reconnected", async () => {
    const fake = await fakeGateway({ tickIntervalMs: 200 });
    const { client } = await gatewayClient(fake.url, { requestTimeoutMs: 300 });
    await client.ready();
    fake.stall(true);
    const error = await client.request("health", {}).catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_TIMEOUT")).toBe(true);
    expect(String((error as Error).message)).toContain("health got no answer in 300 ms");
    // No tick for 2.5 intervals: the link is dead.
    await waitFor(() => client.health().state !== "connected", { what: "the watchdog" });
    expect(client.health().lastError?.message).toMatch(/went silent/);
    fake.stall(false);
    await client.ready(5_000);
  });

  it("a run on a gateway that never comes back fails with a clear error at its deadline, never hangs", async () => {
    const fake = await fakeGateway({ script: { kind: "stall" } });
    const { client } = await gatewayClient(fake.url);
    await client.ready();
    const run = client.runAgent({
      prompt: "forever",
      sessionKey: "agent:main:clawbridge:hang",
      idempotencyKey: "hang-1",
      timeoutMs: 800,
    });
    expect(client.health().runningRuns).toBe(1);
    const error = await run.result.catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_TIMEOUT")).toBe(true);
    expect(String((error as Error).message)).toContain("did not finish within 800 ms");
    // A failed run no longer counts as running either.
    expect(client.health().runningRuns).toBe(0);
  });

  it("runAgent while no gateway can be reached fails after the connect wait, naming the node", async () => {
    const fake = await fakeGateway();
    const url = fake.url;
    await fake.close();
    const { client } = await gatewayClient(url, { connectWaitMs: 300 });
    const error = await client
      .runAgent({ prompt: "x", sessionKey: "agent:main:clawbridge:x", idempotencyKey: "off-1" })
      .result.catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_UNREACHABLE")).toBe(true);
    expect(String((error as Error).message)).toContain("node ai-pc");
  });

  it("pairing: the requestId and the exact command, kept current when a request expires, then connects without a restart", async () => {
    const fake = await fakeGateway({ requirePairing: true, pairingTtlMs: 300 });
    const { client, stateDir, log } = await gatewayClient(fake.url, { pairingRetryMs: 100 });
    const error = await client.ready(3_000).catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_PAIRING_REQUIRED")).toBe(true);
    const first = client.health().pairing!;
    expect(first.command).toMatch(
      /^openclaw devices approve \S+ --url ws:\/\/127\.0\.0\.1:\d+ --token <your gateway token>$/,
    );
    expect((error as { fix: string }).fix).toContain(first.command);
    expect(client.health().state).toBe("pairing");
    // While it keeps asking, the id stays; after a pause longer than the TTL it is replaced.
    await sleep(250);
    expect(client.health().pairing!.requestId).toBe(first.requestId);
    await client.stop();
    await sleep(450);
    const again = await gatewayClient(fake.url, { stateDir, pairingRetryMs: 100 });
    await waitFor(() => again.client.health().pairing, { what: "a new pairing request" });
    const second = again.client.health().pairing!;
    expect(second.requestId).not.toBe(first.requestId);
    expect(fake.pendingPairings().map((p) => p.requestId)).toContain(second.requestId);
    // Approved on the node's computer: the client connects by itself.
    expect(fake.approve(second.requestId)).toBe(true);
    await again.client.ready(5_000);
    expect(again.client.health()).toMatchObject({ state: "connected" });
    expect(again.client.health().pairing).toBeUndefined();
    const stored = await waitFor(() => new DeviceTokenStore(stateDir).get("ai-pc"), {
      what: "the stored device token",
    });
    expect(stored.token).toBeTruthy();
    // The log said what to run, and never a secret.
    expect(log.text()).toContain("openclaw devices approve");
    expect(log.text()).not.toContain(GATEWAY_TOKEN);
    expect(again.log.text()).not.toContain(stored.token);
  });

  it("a changed shared token: the stored device token is tried first", async () => {
    const fake = await fakeGateway({ requirePairing: true });
    const { client, stateDir } = await gatewayClient(fake.url, { pairingRetryMs: 50 });
    await waitFor(() => fake.pendingPairings().length > 0);
    fake.approve(fake.pendingPairings()[0]!.requestId);
    await client.ready(5_000);
    await client.stop();
    fake.setToken("the-token-was-rotated-on-the-node");
    const again = await gatewayClient(fake.url, { stateDir });
    await again.client.ready(5_000);
    expect(again.client.health().state).toBe("connected");
    expect(again.log.text()).toContain("retrying with the stored device token");
  });

  it("a wrong token without a device token: auth-failed, naming the node and the variable, token never shown", async () => {
    const fake = await fakeGateway();
    const { client, log } = await gatewayClient(fake.url, { token: "wrong-token-abcdefghijkl" });
    const error = await client.ready(3_000).catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_AUTH")).toBe(true);
    expect((error as Error).message).toBe(
      "node ai-pc: the gateway refused the token (gateway token mismatch)",
    );
    expect((error as { fix: string }).fix).toContain("AI_PC_TOKEN");
    expect(log.text()).not.toContain("wrong-token-abcdefghijkl");
    expect(client.health().state).toBe("auth-failed");
  });

  it("observes every session, with Feishu group sessions parsed", async () => {
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url);
    await client.ready();
    const seen: ObservedEvent[] = [];
    client.observe((e) => seen.push(e));
    fake.sayInGroup({ chatId: "oc_group1", text: "@AI-PC助手 帮我跑一下 benchmark", topicId: "omt_7" });
    await waitFor(() => seen.some((e) => e.kind === "chat" && e.state === "final"));
    const final = seen.find((e) => e.kind === "chat" && e.state === "final")!;
    expect(final).toMatchObject({
      node: "ai-pc",
      text: "@AI-PC助手 帮我跑一下 benchmark",
      reconciled: false,
      session: { agentId: "main", channel: "feishu", kind: "group", chatId: "oc_group1", topicId: "omt_7" },
    });
  });

  it("after a reconnect, what was said meanwhile is reconciled from chat.history once, nothing twice", async () => {
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url, { backoff: { baseMs: 400, maxMs: 400, jitter: 0 } });
    await client.ready();
    const finals: ObservedEvent[] = [];
    client.observe((e) => e.kind === "chat" && e.state === "final" && finals.push(e));
    fake.sayInGroup({ chatId: "oc_g", text: "before the drop" });
    await waitFor(() => finals.length === 1);
    fake.dropConnections();
    await waitFor(() => client.health().state !== "connected");
    // Said while nobody listened.
    const runId = fake.sayInGroup({ chatId: "oc_g", text: "while you were away", chunks: 1 });
    await fake.runFinished(runId);
    await client.ready(5_000);
    await waitFor(() => finals.length === 2, { what: "the reconciled message" });
    await sleep(200);
    expect(finals.map((e) => [e.text, e.reconciled])).toEqual([
      ["before the drop", false],
      ["while you were away", true],
    ]);
  });

  it("ignores unasked events and frames it does not know", async () => {
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url);
    await client.ready();
    fake.emitEvent("health", { ok: true });
    fake.emitEvent("update.available", { version: "2099.1.1" });
    fake.emitEvent("chat", { nonsense: true });
    const result = await client.runAgent({
      prompt: "still fine",
      sessionKey: "agent:main:clawbridge:ok",
      idempotencyKey: "ok-1",
    }).result;
    expect(result.text).toBe("echo: still fine");
  });

  it("reports health for the pool: state, latency, running runs", async () => {
    const fake = await fakeGateway({ script: { kind: "stall" } });
    const { client } = await gatewayClient(fake.url, { pingIntervalMs: 100 });
    await client.ready();
    const run = client.runAgent({
      prompt: "x",
      sessionKey: "agent:main:clawbridge:h",
      idempotencyKey: "h-1",
    });
    await waitFor(() => client.health().latencyMs !== undefined && client.health().runningRuns === 1);
    expect(client.health()).toMatchObject({ node: "ai-pc", state: "connected", protocol: 4, failures: 0 });
    await run.abort();
    expect((await run.result).status).toBe("aborted");
    expect(client.health().runningRuns).toBe(0);
    void GATEWAY_TOKEN;
  });
});
