import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createLogger } from "../../../src/core/index.js";
import {
  deviceAuthPayload,
  identityFromPrivateKey,
  type DeviceIdentity,
} from "../../../src/gateway/device-identity.js";
import { helloOkSchema } from "../../../src/gateway/frames.js";
import {
  startFakeGateway,
  type FakeGateway,
  type FakeGatewayOptions,
  type ReplyScript,
} from "../../../src/sim/fake-gateway.js";
import { logSink } from "../../helpers/log-sink.js";
import { waitFor } from "../../helpers/wait.js";

const TOKEN = "fake-gateway-test-token-0123456789";
const SCOPES = ["operator.read", "operator.write"];

// Loose views of frames, enough for assertions.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function newIdentity(): DeviceIdentity {
  const { privateKey } = generateKeyPairSync("ed25519");
  return identityFromPrivateKey(privateKey.export({ format: "pem", type: "pkcs8" }).toString());
}

/** A minimal raw protocol client: keeps every frame it receives. */
class RawClient {
  readonly frames: Json[] = [];
  closed?: { code: number; reason: string };
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.frames.push(JSON.parse(String(data)) as Json));
    ws.on("close", (code, reason) => (this.closed = { code, reason: String(reason) }));
  }

  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    opened.push(client);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  async challenge(): Promise<{ nonce: string; ts: number }> {
    const frame = await waitFor(() => this.frames.find((f) => f.event === "connect.challenge"), {
      what: "connect.challenge",
    });
    return frame.payload as { nonce: string; ts: number };
  }

  request(method: string, params?: unknown, id = `r${this.nextId++}`): string {
    this.ws.send(JSON.stringify({ type: "req", id, method, params }));
    return id;
  }

  responses(id: string): Json[] {
    return this.frames.filter((f) => f.type === "res" && f.id === id);
  }

  /** Waits for the `n`-th response to request `id` and returns it. */
  async response(id: string, n = 1): Promise<Json> {
    const all = await waitFor(() => (this.responses(id).length >= n ? this.responses(id) : undefined), {
      what: `response ${n} to ${id}`,
    });
    return all[n - 1]!;
  }

  async call(method: string, params?: unknown): Promise<Json> {
    return this.response(this.request(method, params));
  }

  events(name?: string): Json[] {
    return this.frames.filter((f) => f.type === "event" && (name === undefined || f.event === name));
  }

  /** `agent`/`chat` events of one run, as `kind:stream-or-state` labels. */
  runTrace(runId: string): string[] {
    return this.events()
      .filter((f) => (f.event === "agent" || f.event === "chat") && f.payload?.runId === runId)
      .map((f) => `${f.event}:${f.event === "agent" ? f.payload.stream : f.payload.state}`);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { what: "socket close" });
  }
}

const opened: RawClient[] = [];
const gateways: FakeGateway[] = [];

afterEach(async () => {
  for (const client of opened.splice(0)) client.ws.terminate();
  for (const gateway of gateways.splice(0)) await gateway.close();
});

async function start(options: Partial<FakeGatewayOptions> = {}): Promise<FakeGateway> {
  const gateway = await startFakeGateway({ token: TOKEN, ...options });
  gateways.push(gateway);
  return gateway;
}

interface ConnectOptions {
  identity?: DeviceIdentity;
  token?: string;
  deviceToken?: string;
  /** Signs with this identity instead (a forged signature). */
  signer?: DeviceIdentity;
  minProtocol?: number;
  maxProtocol?: number;
  extra?: Record<string, unknown>;
}

function connectParams(challenge: { nonce: string; ts: number }, options: ConnectOptions = {}) {
  const identity = options.identity ?? newIdentity();
  const client = { id: "gateway-client", version: "0.1.0", platform: "linux", mode: "backend" } as const;
  const token = options.deviceToken === undefined ? (options.token ?? TOKEN) : undefined;
  const payload = deviceAuthPayload({
    deviceId: identity.deviceId,
    clientId: client.id,
    clientMode: client.mode,
    role: "operator",
    scopes: SCOPES,
    signedAtMs: challenge.ts,
    token: token ?? options.deviceToken,
    nonce: challenge.nonce,
    platform: client.platform,
  });
  return {
    minProtocol: options.minProtocol ?? 4,
    maxProtocol: options.maxProtocol ?? 4,
    client,
    role: "operator",
    scopes: SCOPES,
    caps: ["tool-events"],
    auth: token === undefined ? { deviceToken: options.deviceToken } : { token },
    device: {
      id: identity.deviceId,
      publicKey: identity.publicKey,
      signature: (options.signer ?? identity).sign(payload),
      signedAt: challenge.ts,
      nonce: challenge.nonce,
    },
    ...options.extra,
  };
}

/** Opens a socket, answers the challenge and returns the connect response. */
async function handshake(gateway: FakeGateway, options: ConnectOptions = {}) {
  const client = await RawClient.open(gateway.url);
  const challenge = await client.challenge();
  const res = await client.call("connect", connectParams(challenge, options));
  return { client, res, challenge };
}

async function connected(gateway: FakeGateway, options: ConnectOptions = {}): Promise<RawClient> {
  const { client, res } = await handshake(gateway, options);
  expect(res.ok, JSON.stringify(res.error)).toBe(true);
  return client;
}

const slow = (text: string): ReplyScript => ({ kind: "text", text, chunks: 4, delayMs: 20 });

describe("fake gateway: handshake", () => {
  it("sends the challenge, accepts a signed connect and answers hello-ok; health endpoints answer", async () => {
    const gateway = await start({ tickIntervalMs: 12_345 });
    expect(gateway.url).toBe(`ws://127.0.0.1:${gateway.port}`);
    const { client, res, challenge } = await handshake(gateway);
    const challengeFrame = client.frames[0]!;
    expect(challengeFrame).toEqual({ type: "event", event: "connect.challenge", payload: challenge });
    expect(challenge.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(challenge.ts - Date.now())).toBeLessThan(10_000);

    expect(res).toMatchObject({ type: "res", ok: true });
    const hello = helloOkSchema.parse(res.payload);
    expect(hello).toMatchObject({
      type: "hello-ok",
      protocol: 4,
      server: { version: "2026.9.6-fake" },
      features: { events: ["chat", "agent", "tick", "health"] },
      snapshot: {},
      auth: { role: "operator", scopes: SCOPES },
      policy: { maxPayload: 26_214_400, tickIntervalMs: 12_345 },
    });
    expect(hello.features.methods).toEqual(
      expect.arrayContaining(["agent", "agent.wait", "chat.abort", "chat.history", "health", "status"]),
    );
    expect(hello.server.connId).toBe(gateway.clients()[0]!.connId);
    expect(hello.auth!.deviceToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(gateway.received.map((r) => r.frame.method)).toEqual(["connect"]);

    expect(await client.call("health")).toMatchObject({ ok: true, payload: { ok: true } });
    expect(await client.call("nope.method")).toMatchObject({
      ok: false,
      error: { code: "INVALID_REQUEST", message: "unknown method: nope.method" },
    });
    for (const path of ["/healthz", "/readyz"]) {
      expect((await fetch(`http://127.0.0.1:${gateway.port}${path}`)).status).toBe(200);
    }
  });

  it("refuses requests before connect", async () => {
    const gateway = await start();
    const client = await RawClient.open(gateway.url);
    await client.challenge();
    expect(await client.call("health")).toMatchObject({
      ok: false,
      error: { code: "INVALID_REQUEST", message: "connect required" },
    });
  });

  it("refuses a bad signature and closes with 1008", async () => {
    const gateway = await start();
    const { client, res } = await handshake(gateway, { signer: newIdentity() });
    expect(res).toMatchObject({
      ok: false,
      error: {
        code: "INVALID_REQUEST",
        message: "device signature invalid",
        details: { code: "DEVICE_SIGNATURE_INVALID" },
      },
    });
    expect((await client.waitClosed()).code).toBe(1008);
  });

  it("refuses an unknown key in the closed connect params and a missing device", async () => {
    const gateway = await start();
    const { res } = await handshake(gateway, { extra: { surprise: true } });
    expect(res).toMatchObject({ ok: false, error: { code: "INVALID_REQUEST" } });
    expect(res.error.message).toContain("surprise");

    const { res: noDevice } = await handshake(gateway, { extra: { device: undefined } });
    expect(noDevice.error).toEqual({ code: "INVALID_REQUEST", message: "device identity required" });
  });

  it("refuses a wrong token; offers the device token once one was issued, which then works", async () => {
    const gateway = await start();
    const identity = newIdentity();
    const first = await handshake(gateway, { identity, token: "wrong-token-value" });
    expect(first.res.error).toEqual({
      code: "INVALID_REQUEST",
      message: "unauthorized: gateway token mismatch (set gateway.remote.token to match gateway.auth.token)",
      details: {
        code: "AUTH_TOKEN_MISMATCH",
        authReason: "token_mismatch",
        canRetryWithDeviceToken: false,
        recommendedNextStep: "update_auth_configuration",
      },
    });
    expect((await first.client.waitClosed()).code).toBe(1008);

    const ok = await handshake(gateway, { identity });
    const deviceToken = ok.res.payload.auth.deviceToken as string;
    gateway.setToken("rotated-token-value");
    const second = await handshake(gateway, { identity });
    expect(second.res.error.details).toMatchObject({
      code: "AUTH_TOKEN_MISMATCH",
      canRetryWithDeviceToken: true,
      recommendedNextStep: "retry_with_device_token",
    });
    const retried = await handshake(gateway, { identity, deviceToken });
    expect(retried.res.ok).toBe(true);
    expect(retried.res.payload.auth.deviceToken).toBe(deviceToken);
  });

  it("answers PROTOCOL_MISMATCH and closes with 1002", async () => {
    const gateway = await start();
    const { client, res } = await handshake(gateway, { minProtocol: 5, maxProtocol: 6 });
    expect(res.error).toEqual({
      code: "PROTOCOL_MISMATCH",
      message: "protocol mismatch: server speaks 4",
      details: { code: "PROTOCOL_MISMATCH", expectedProtocol: 4 },
    });
    expect((await client.waitClosed()).code).toBe(1002);
  });

  it("never logs the token or a device token", async () => {
    const sink = logSink();
    const gateway = await start({ logger: createLogger({ level: "debug", destination: sink.stream }) });
    await handshake(gateway, { token: "wrong-token-value" });
    const { res } = await handshake(gateway);
    await waitFor(() => sink.lines.some((l) => l.includes("client connected")));
    expect(sink.text()).not.toContain(TOKEN);
    expect(sink.text()).not.toContain(res.payload.auth.deviceToken);
    expect(sink.text()).not.toContain("wrong-token-value");
  });
});

describe("fake gateway: pairing", () => {
  it("keeps the requestId while the device retries, expires it, and connects after approval", async () => {
    const gateway = await start({ requirePairing: true, pairingTtlMs: 1_000 });
    const identity = newIdentity();
    const first = await handshake(gateway, { identity });
    expect(first.res.error).toMatchObject({
      code: "NOT_PAIRED",
      message: "pairing required: device is not approved yet",
      details: {
        code: "PAIRING_REQUIRED",
        reason: "not-paired",
        deviceId: identity.deviceId,
        requestedRole: "operator",
        requestedScopes: SCOPES,
      },
    });
    const requestId = first.res.error.details.requestId as string;
    expect(first.res.error.details.remediationHint).toBe(`openclaw devices approve ${requestId}`);
    expect((await first.client.waitClosed()).code).toBe(1008);

    const again = await handshake(gateway, { identity });
    expect(again.res.error.details.requestId).toBe(requestId);
    expect(gateway.pendingPairings()).toMatchObject([{ requestId, deviceId: identity.deviceId }]);

    await waitFor(() => gateway.pendingPairings().length === 0, { what: "the request to expire" });
    const renewed = await handshake(gateway, { identity });
    const newId = renewed.res.error.details.requestId as string;
    expect(newId).not.toBe(requestId);
    expect(gateway.approve(requestId)).toBe(false);
    expect(gateway.approve(newId)).toBe(true);

    const approved = await handshake(gateway, { identity });
    expect(approved.res).toMatchObject({ ok: true, payload: { type: "hello-ok", auth: { scopes: SCOPES } } });
    // Another key is a new device: refused again.
    expect((await handshake(gateway)).res.error.code).toBe("NOT_PAIRED");
  });
});

describe("fake gateway: agent runs", () => {
  it("answers agent twice and streams every event to a second, idle connection", async () => {
    const gateway = await start();
    const caller = await connected(gateway);
    const observer = await connected(gateway);
    const sessionKey = "agent:main:clawbridge-c1";
    const id = caller.request("agent", {
      message: "hello there",
      sessionKey,
      idempotencyKey: "run-1",
      deliver: false,
    });
    const accepted = await caller.response(id, 1);
    expect(accepted.payload).toMatchObject({
      runId: "run-1",
      sessionKey,
      agentId: "main",
      status: "accepted",
    });
    expect(typeof accepted.payload.acceptedAt).toBe("number");
    const final = await caller.response(id, 2);
    expect(final.payload).toEqual({
      runId: "run-1",
      status: "ok",
      summary: "completed",
      result: { payloads: [{ text: "echo: hello there" }] },
    });

    const expected = [
      "agent:lifecycle",
      ...Array.from({ length: 3 }, () => ["agent:assistant", "chat:delta"]).flat(),
      "agent:lifecycle",
      "chat:final",
    ];
    await waitFor(() => observer.runTrace("run-1").length === expected.length);
    expect(observer.runTrace("run-1")).toEqual(expected);
    expect(caller.runTrace("run-1")).toEqual(expected);

    const events = observer.events().filter((f) => f.payload?.runId === "run-1");
    expect(events[0]!.payload).toEqual({
      runId: "run-1",
      sessionKey,
      stream: "lifecycle",
      data: { phase: "start" },
    });
    const deltas = events.filter((f) => f.event === "agent" && f.payload.stream === "assistant");
    expect(deltas.map((f) => f.payload.data.delta).join("")).toBe("echo: hello there");
    expect(deltas.at(-1)!.payload.data.text).toBe("echo: hello there");
    expect(events.at(-1)!.payload).toMatchObject({
      sessionKey,
      runId: "run-1",
      state: "final",
      message: { role: "assistant", content: [{ type: "text", text: "echo: hello there" }] },
    });
    const seqs = observer.events().map((f) => f.seq as number);
    expect(seqs[0]).toBeUndefined(); // the challenge
    expect(seqs.slice(1)).toEqual(seqs.slice(1).map((_, i) => i + 1));

    expect((await caller.call("status")).payload).toMatchObject({ version: "2026.9.6-fake", runs: 0 });
    expect((await caller.call("sessions.list")).payload.sessions).toMatchObject([{ key: sessionKey }]);
  });

  it("dedups by idempotency key: in_flight while running, the same result after, one run", async () => {
    const gateway = await start();
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    gateway.setScript(async () => {
      await gate;
      return { kind: "text", text: "done once" };
    });
    const client = await connected(gateway);
    const params = { message: "do it", sessionKey: "agent:main:x", idempotencyKey: "key-7" };
    const first = client.request("agent", params);
    await client.response(first, 1);
    const dup = await client.call("agent", params);
    expect(dup).toMatchObject({ ok: true, payload: { runId: "key-7", status: "in_flight" } });
    release();
    const final = await client.response(first, 2);
    const again = client.request("agent", params);
    expect(await client.response(again)).toEqual({ ...final, id: again });
    expect(gateway.runs().filter((r) => r.idempotencyKey === "key-7")).toHaveLength(1);
    expect(client.responses(again)).toHaveLength(1);
    expect(client.responses(dup.id as string)).toHaveLength(1);
  });

  it("aborts a stalled run with chat.abort", async () => {
    const gateway = await start({ script: { kind: "stall" } });
    const client = await connected(gateway);
    const sessionKey = "agent:main:abort-me";
    const id = client.request("agent", { message: "wait forever", sessionKey, idempotencyKey: "stuck" });
    await client.response(id, 1);
    expect((await client.call("agent.wait", { runId: "stuck", timeoutMs: 30 })).payload).toEqual({
      runId: "stuck",
      status: "timeout",
    });
    expect((await client.call("chat.abort", { sessionKey, runId: "stuck" })).payload).toMatchObject({
      aborted: true,
    });
    expect((await client.response(id, 2)).payload).toMatchObject({ runId: "stuck", status: "aborted" });
    await waitFor(() => client.runTrace("stuck").includes("chat:aborted"));
    expect(client.runTrace("stuck")).toEqual(["agent:lifecycle", "agent:lifecycle", "chat:aborted"]);
    // openclaw 2026.9.6's shapes: an aborted run is waited out as error/"rpc"; a run it does
    // not know is waited for and answered `timeout`, like one still going.
    expect((await client.call("agent.wait", { runId: "stuck", timeoutMs: 1000 })).payload).toMatchObject({
      runId: "stuck",
      status: "error",
      stopReason: "rpc",
    });
    expect((await client.call("agent.wait", { runId: "nope", timeoutMs: 10 })).payload).toEqual({
      runId: "nope",
      status: "timeout",
    });
  });

  it("reports a failing run as AGENT_FAILED and a chat error", async () => {
    const gateway = await start({ script: { kind: "fail", message: "model exploded" } });
    const client = await connected(gateway);
    const id = client.request("agent", { message: "x", sessionKey: "agent:main:f", idempotencyKey: "f1" });
    expect((await client.response(id, 2)).error).toEqual({ code: "AGENT_FAILED", message: "model exploded" });
    await waitFor(() => client.runTrace("f1").includes("chat:error"));
    expect((await client.call("agent.wait", { runId: "f1", timeoutMs: 10 })).payload).toMatchObject({
      status: "error",
    });
  });

  it("starts a run with chat.send: one ack, then chat events", async () => {
    const gateway = await start();
    const client = await connected(gateway);
    const sessionKey = "agent:main:send";
    const ack = await client.call("chat.send", { sessionKey, message: "hi", idempotencyKey: "s1" });
    expect(ack.payload).toEqual({ runId: "s1", status: "started" });
    await waitFor(() => client.runTrace("s1").includes("chat:final"));
    expect(client.responses(ack.id as string)).toHaveLength(1);
    expect((await client.call("agent.wait", { runId: "s1", timeoutMs: 10 })).payload).toMatchObject({
      runId: "s1",
      status: "ok",
      terminalReply: { text: "echo: hi" },
    });
  });

  it("keeps the session transcript for chat.history", async () => {
    const gateway = await start({
      script: ({ message }) => ({ kind: "text", text: `re: ${message}`, chunks: 2, delayMs: 1 }),
    });
    const client = await connected(gateway);
    const sessionKey = "agent:main:hist";
    for (const [i, message] of ["one", "two"].entries()) {
      const id = client.request("agent", { message, sessionKey, idempotencyKey: `h${i}` });
      await client.response(id, 2);
    }
    const history = (await client.call("chat.history", { sessionKey, limit: 3 })).payload;
    expect(history.sessionKey).toBe(sessionKey);
    expect(history.messages.map((m: Json) => `${m.role}:${m.content[0].text}`)).toEqual([
      "assistant:re: one",
      "user:two",
      "assistant:re: two",
    ]);
    expect(history.messages[2]).toMatchObject({ __openclaw: { runId: "h1" }, timestamp: expect.any(Number) });
    expect(history.sessionInfo).toEqual({ hasActiveRun: false, activeRunIds: [] });
    expect(history).not.toHaveProperty("inFlightRun");
    const empty = (await client.call("chat.history", { sessionKey: "agent:main:empty" })).payload;
    expect(empty.messages).toEqual([]);
    expect(empty.sessionInfo).toEqual({ hasActiveRun: false, activeRunIds: [] });
  });

  it("chat.history names the run in flight with its text so far", async () => {
    const gateway = await start({ script: { kind: "text", text: "abcdef", chunks: 3, delayMs: 2_000 } });
    const client = await connected(gateway);
    const sessionKey = "agent:main:flight";
    client.request("agent", { message: "go", sessionKey, idempotencyKey: "fl1" });
    await waitFor(() => client.runTrace("fl1").includes("chat:delta"));
    const history = (await client.call("chat.history", { sessionKey })).payload;
    expect(history.sessionInfo).toEqual({ hasActiveRun: true, status: "running" });
    expect(history.inFlightRun).toMatchObject({ runId: "fl1", text: "ab" });
  });

  it("says scripted text in a Feishu group session, seen by every operator and kept in history", async () => {
    const gateway = await start();
    const a = await connected(gateway);
    const b = await connected(gateway);
    const runId = gateway.sayInGroup({
      chatId: "oc_abc123",
      text: "大家好, hello",
      agentId: "Main",
      topicId: "t9",
    });
    const sessionKey = "agent:main:feishu:group:oc_abc123:topic:t9";
    for (const client of [a, b]) {
      await waitFor(() => client.runTrace(runId).includes("chat:final"));
      expect(client.events("chat").filter((f) => f.payload.runId === runId)[0]!.payload.sessionKey).toBe(
        sessionKey,
      );
    }
    const final = a.events("chat").find((f) => f.payload.runId === runId && f.payload.state === "final")!;
    expect(final.payload.message.content[0].text).toBe("大家好, hello");
    const history = (await a.call("chat.history", { sessionKey })).payload.messages;
    expect(history).toMatchObject([
      { role: "assistant", content: [{ type: "text", text: "大家好, hello" }] },
    ]);
  });
});

describe("fake gateway: link controls", () => {
  it("drops every socket abruptly; a run keeps going and its key answers after reconnecting", async () => {
    const gateway = await start({ script: slow("survives the drop") });
    const identity = newIdentity();
    const client = await connected(gateway, { identity });
    const params = { message: "m", sessionKey: "agent:main:d", idempotencyKey: "drop-1" };
    await client.response(client.request("agent", params), 1);
    gateway.dropConnections();
    expect((await client.waitClosed()).code).toBe(1006);
    await waitFor(() => gateway.connections() === 0);

    const again = await connected(gateway, { identity });
    await waitFor(() => gateway.runs()[0]!.status === "ok");
    expect((await again.call("agent", params)).payload).toMatchObject({
      status: "ok",
      result: { payloads: [{ text: "survives the drop" }] },
    });
    expect(gateway.runs()).toHaveLength(1);
  });

  it("sends ticks and arbitrary events; stalling stops answers and ticks", async () => {
    const gateway = await start({ tickIntervalMs: 40 });
    const client = await connected(gateway);
    await waitFor(() => client.events("tick").length >= 2, { what: "two ticks" });
    const ticks = client.events("tick");
    expect(ticks[0]!.payload.ts).toEqual(expect.any(Number));
    expect(ticks[1]!.seq).toBeGreaterThan(ticks[0]!.seq);

    gateway.emitEvent("health", { ok: true });
    await waitFor(() => client.events("health").length === 1);

    gateway.stall(true);
    const unanswered = client.request("health");
    await waitFor(() => gateway.received.some((r) => r.frame.id === unanswered));
    const ticksWhileStalled = client.events("tick").length;
    gateway.stall(false);
    await client.call("health");
    expect(client.responses(unanswered)).toHaveLength(0);
    await waitFor(() => client.events("tick").length >= ticksWhileStalled + 2, { what: "ticks again" });

    const seen: string[] = [];
    gateway.on("request", (frame) => seen.push(frame.method));
    await client.call("status");
    expect(seen).toEqual(["status"]);
  });
});
