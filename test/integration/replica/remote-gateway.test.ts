import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisStore, type Fence } from "../../../src/cluster/index.js";
import { isClawbridgeError, isRetryable, type ClawbridgeError } from "../../../src/core/index.js";
import type { GatewayClient, RunEvent, RunHandle } from "../../../src/gateway/index.js";
import { GatewayHost, RemoteGatewayClient } from "../../../src/replica/index.js";
import { isRunFailure } from "../../../src/relay/effects.js";
import { fakeGateway, gatewayClient } from "../../helpers/gateway.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { waitFor } from "../../helpers/wait.js";

const skip = redisSkipReason();

const NODE = "ai-pc";
const SESSION = "agent:main:main";

function collect(run: RunHandle): RunEvent[] {
  const events: RunEvent[] = [];
  run.onEvent((event) => events.push(event));
  return events;
}

function deltas(events: RunEvent[]): Extract<RunEvent, { kind: "delta" }>[] {
  return events.filter((e): e is Extract<RunEvent, { kind: "delta" }> => e.kind === "delta");
}

async function failure(promise: Promise<unknown>): Promise<ClawbridgeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isClawbridgeError(error)) throw new Error(`expected a ClawbridgeError, got ${String(error)}`);
  return error;
}

/** What callers decide on, and what people read, of an error (its own run id in the words left out). */
function seen(error: ClawbridgeError, runId = "") {
  const words = (text: string) => (runId ? text.replaceAll(runId, "<run>") : text);
  return {
    code: error.code,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    runFailure: isRunFailure(error),
    isRetryable: isRetryable(error),
    en: words(error.describe("en")),
    zh: words(error.describe("zh-CN")),
    key: error.text.key,
  };
}

describe.skipIf(skip)("RemoteGatewayClient: a gateway another replica hosts, through Redis", () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const stops: (() => Promise<void>)[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  /** Replicas' connections under one fresh key prefix, and the node's role given to one of them. */
  function world() {
    const keyPrefix = `replica-gw-${++prefixes}:`;
    const leaseKey = `${keyPrefix}lease:node:${NODE}`;
    const connect = async (name: string) => {
      const store = new RedisStore({ url: redis.url, keyPrefix, name });
      stores.push(store);
      await store.ready();
      return store;
    };
    const grant = async (store: RedisStore, replica: string, token: number): Promise<Fence> => {
      const value = `${replica}|${token}`;
      await store.client.set(leaseKey, value);
      return { key: leaseKey, value, token, held: () => true };
    };
    const host = async (
      store: RedisStore,
      gateway: GatewayClient,
      replica: string,
      token: number,
      claimIdleMs = 500,
    ) => {
      const fence = await grant(store, replica, token);
      const host = new GatewayHost({ store, node: NODE, gateway, fence, consumer: replica, claimIdleMs });
      stops.push(() => host.stop());
      await host.start();
      return host;
    };
    const remote = (store: RedisStore) => {
      const client = new RemoteGatewayClient({ store, node: NODE, pollMs: 50, connectWaitMs: 3_000 });
      stops.push(() => client.stop());
      client.start();
      return client;
    };
    return { connect, host, remote, keyPrefix };
  }

  it("mirrors the host's health: no host, connected, the link lost, the host gone", async () => {
    const { connect, host, remote } = world();
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url);
    await client.ready(5_000);
    const tasks = remote(await connect("tasks"));
    const states: string[] = [];
    tasks.onState((health) => states.push(health.state));

    await waitFor(() => tasks.health().lastError?.message.includes("no replica holds node ai-pc"));
    expect(tasks.health().state).not.toBe("connected");
    await expect(tasks.ready(100)).rejects.toMatchObject({ code: "CB_GATEWAY_UNREACHABLE" });

    const owner = await host(await connect("owner"), client, "r1", 1);
    await tasks.ready(5_000);
    expect(tasks.health()).toMatchObject({
      node: NODE,
      url: fake.url,
      state: "connected",
      serverVersion: client.health().serverVersion,
    });
    expect(tasks.hostedBy()).toBe("r1");

    await fake.close();
    await waitFor(() => tasks.health().state !== "connected");
    await expect(tasks.request("health")).rejects.toMatchObject({
      code: expect.stringMatching(/^CB_GATEWAY_/),
    });

    await owner.stop();
    await waitFor(() => tasks.hostedBy() === undefined);
    expect(tasks.health().lastError).toMatchObject({ code: "CB_GATEWAY_UNREACHABLE" });
    expect(states).toContain("connected");
    expect(states.at(-1)).not.toBe("connected");
  });

  it("runs an agent with the same events and result as the local client, and answers requests alike", async () => {
    const { connect, host, remote } = world();
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url);
    await client.ready(5_000);
    await host(await connect("owner"), client, "r1", 1);
    const tasks = remote(await connect("tasks"));
    await tasks.ready(5_000);

    const local = client.runAgent({ prompt: "hello there", sessionKey: SESSION, idempotencyKey: "local-1" });
    const localEvents = collect(local);
    const localResult = await local.result;

    const run = tasks.runAgent({ prompt: "hello there", sessionKey: SESSION, idempotencyKey: "remote-1" });
    expect(run.runId).toBe("remote-1");
    expect(tasks.runAgent({ prompt: "again", sessionKey: SESSION, idempotencyKey: "remote-1" })).toBe(run);
    const events = collect(run);
    const result = await run.result;

    expect(result).toEqual({ ...localResult, runId: "remote-1" });
    expect(events).toEqual(
      localEvents.map((e) => (e.kind === "accepted" ? { kind: "accepted", runId: "remote-1" } : e)),
    );
    expect(deltas(events).length).toBeGreaterThan(1);
    expect(fake.runs().filter((r) => r.runId === "remote-1")).toHaveLength(1);

    // A plain request goes to the same gateway and comes back as the local client gets it.
    const params = { sessionKey: SESSION, limit: 20 };
    expect(await tasks.request("chat.history", params)).toEqual(await client.request("chat.history", params));

    // A re-attachment by run id (a restarted task layer) gets the finished run's result.
    const again = tasks.attachRun({ runId: "local-1", sessionKey: SESSION, timeoutMs: 10_000 });
    expect(again.runId).toBe("local-1");
    await expect(again.result).resolves.toMatchObject({
      runId: "local-1",
      status: "ok",
      text: localResult.text,
    });
  });

  it("aborts a run on the host's gateway", async () => {
    const { connect, host, remote } = world();
    const fake = await fakeGateway({ script: { kind: "stall" } });
    const { client } = await gatewayClient(fake.url);
    await client.ready(5_000);
    await host(await connect("owner"), client, "r1", 1);
    const tasks = remote(await connect("tasks"));
    await tasks.ready(5_000);

    const run = tasks.runAgent({ prompt: "wait forever", sessionKey: SESSION, idempotencyKey: "stall-1" });
    const events = collect(run);
    await waitFor(() => events.some((e) => e.kind === "accepted"), { what: "the run accepted" });
    await run.abort();
    await expect(run.result).resolves.toMatchObject({ runId: "stall-1", status: "aborted" });
    expect(fake.runs().find((r) => r.runId === "stall-1")?.status).toBe("aborted");
  });

  it("keeps the errors' codes, retryability, details and texts", async () => {
    const { connect, host, remote } = world();
    const fake = await fakeGateway({ script: { kind: "fail", message: "the model fell over" } });
    const { client } = await gatewayClient(fake.url, { connectWaitMs: 1_000 });
    await client.ready(5_000);
    await host(await connect("owner"), client, "r1", 1);
    const tasks = remote(await connect("tasks"));
    await tasks.ready(5_000);

    // The gateway refuses a request.
    const localRefusal = await failure(client.request("no.such.method"));
    const remoteRefusal = await failure(tasks.request("no.such.method"));
    expect(seen(remoteRefusal)).toEqual(seen(localRefusal));
    expect(remoteRefusal.details).toEqual(localRefusal.details);
    expect(seen(remoteRefusal).runFailure).toBe(false);

    // The agent run fails.
    const localRun = await failure(
      client.runAgent({ prompt: "x", sessionKey: SESSION, idempotencyKey: "fail-local" }).result,
    );
    const remoteRun = await failure(
      tasks.runAgent({ prompt: "x", sessionKey: SESSION, idempotencyKey: "fail-remote" }).result,
    );
    expect(seen(remoteRun, "fail-remote")).toEqual(seen(localRun, "fail-local"));
    expect(remoteRun.details).toEqual({ ...localRun.details, runId: "fail-remote" });
    expect(seen(remoteRun).runFailure).toBe(true);

    // The host's link is down: the run waits for it, then fails as unreachable, with the reason
    // a person reads (a text of its own inside the details) in either language.
    await fake.close();
    await waitFor(() => client.health().state !== "connected");
    const localDown = await failure(
      client.runAgent({ prompt: "x", sessionKey: SESSION, idempotencyKey: "down-local" }).result,
    );
    const remoteDown = await failure(
      tasks.runAgent({ prompt: "x", sessionKey: SESSION, idempotencyKey: "down-remote" }).result,
    );
    expect(seen(remoteDown, "down-remote")).toEqual(seen(localDown, "down-local"));
    expect(remoteDown.code).toBe("CB_GATEWAY_UNREACHABLE");
    const reason = (e: ClawbridgeError<"CB_GATEWAY_UNREACHABLE">) => e.details.reasonText?.render("zh-CN");
    expect(reason(remoteDown as ClawbridgeError<"CB_GATEWAY_UNREACHABLE">)).toBe(
      reason(localDown as ClawbridgeError<"CB_GATEWAY_UNREACHABLE">),
    );
  });

  it("keeps a long run's request with its live host (touched within claimIdleMs), acknowledged at the end", async () => {
    const { connect, host, remote, keyPrefix } = world();
    const fake = await fakeGateway({
      script: { kind: "text", text: "slow and steady", chunks: 15, delayMs: 100 },
    });
    const { client } = await gatewayClient(fake.url);
    await client.ready(5_000);
    await host(await connect("owner"), client, "r1", 1);
    const tasksStore = await connect("tasks");
    const tasks = remote(tasksStore);
    await tasks.ready(5_000);

    const run = tasks.runAgent({ prompt: "go", sessionKey: SESSION, idempotencyKey: "slow-1" });
    const events = collect(run);
    await waitFor(() => events.some((e) => e.kind === "accepted"));
    const requests = `${keyPrefix}gateway:${NODE}:requests`;
    // Another consumer trying to take idle requests over gets nothing while the host lives.
    let stolen = 0;
    let ended = false;
    const end = () => (ended = true);
    run.result.then(end, end);
    for (let round = 0; round < 8 && !ended; round++) {
      const reply = (await tasksStore.client.call(
        ...["XAUTOCLAIM", requests, "hosts", "thief", "500", "0-0", "COUNT", "10", "JUSTID"],
      )) as [string, string[]];
      stolen += reply[1].length;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(stolen).toBe(0);
    await expect(run.result).resolves.toMatchObject({ status: "ok", text: "slow and steady" });
    expect(await tasksStore.client.xlen(requests)).toBe(0);
  });

  it("fails over: the next owner finishes a run the dead one served, once, without repeating events", async () => {
    const { connect, host, remote, keyPrefix } = world();
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(3).trim();
    const fake = await fakeGateway({ script: { kind: "text", text, chunks: 40, delayMs: 60 } });
    const { client: clientA } = await gatewayClient(fake.url);
    const { client: clientB } = await gatewayClient(fake.url);
    await clientA.ready(5_000);
    await clientB.ready(5_000);
    const storeA = await connect("owner-a");
    await host(storeA, clientA, "rA", 1);
    const tasksStore = await connect("tasks");
    const tasks = remote(tasksStore);
    await tasks.ready(5_000);

    const run = tasks.runAgent({ prompt: "tell me", sessionKey: SESSION, idempotencyKey: "long-1" });
    const events = collect(run);
    await waitFor(() => deltas(events).length >= 3, { what: "three deltas through host A" });

    // Host A dies: its Redis connections go first (nothing more written or acknowledged), its
    // lease then passes to B, and its gateway link goes with the process.
    await storeA.close();
    await host(await connect("owner-b"), clientB, "rB", 2);
    await clientA.stop();

    const result = await run.result;
    expect(result).toEqual({ runId: "long-1", status: "ok", text });
    await waitFor(() => tasks.hostedBy() === "rB");

    expect(events.filter((e) => e.kind === "accepted")).toHaveLength(1);
    const parts = deltas(events);
    expect(parts.map((d) => d.delta).join("")).toBe(text);
    for (const [index, part] of parts.entries()) {
      const before = index === 0 ? "" : parts[index - 1]!.text;
      expect(part.text).toBe(before + part.delta);
      expect(part.delta.length).toBeGreaterThan(0);
    }
    const phases = events.flatMap((e) => (e.kind === "lifecycle" ? [e.phase] : []));
    expect(new Set(phases).size).toBe(phases.length);
    // B re-attached to the run the gateway had accepted (it did not send it again).
    expect(fake.received.some((r) => r.frame.method === "agent.wait")).toBe(true);
    expect(fake.received.filter((r) => r.frame.method === "agent")).toHaveLength(1);
    expect(fake.runs().filter((r) => r.idempotencyKey === "long-1")).toHaveLength(1);
    expect(fake.runs()).toHaveLength(1);

    // In Redis: one final answer, and the request acknowledged and gone.
    const client = tasksStore.client;
    const replyKeys = await client.keys(`${keyPrefix}gateway:reply:*`);
    let finals = 0;
    for (const key of replyKeys) {
      for (const [, fields] of await client.xrange(key, "-", "+")) {
        if (fields[1]?.includes('"kind":"result"') || fields[1]?.includes('"kind":"error"')) finals++;
      }
    }
    expect(finals).toBe(1);
    const requests = `${keyPrefix}gateway:${NODE}:requests`;
    expect(await client.xlen(requests)).toBe(0);
    const pending = (await client.xpending(requests, "hosts")) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it("hands a run over at once when its host stops cleanly (no waiting out claimIdleMs)", async () => {
    const { connect, host, remote } = world();
    const text = "handed over cleanly, ".repeat(4).trim();
    const fake = await fakeGateway({ script: { kind: "text", text, chunks: 20, delayMs: 80 } });
    const { client: clientA } = await gatewayClient(fake.url);
    const { client: clientB } = await gatewayClient(fake.url);
    await clientA.ready(5_000);
    await clientB.ready(5_000);
    const hostA = await host(await connect("owner-a"), clientA, "rA", 1);
    const tasks = remote(await connect("tasks"));
    await tasks.ready(5_000);

    const run = tasks.runAgent({ prompt: "go", sessionKey: SESSION, idempotencyKey: "handover-1" });
    const events = collect(run);
    await waitFor(() => deltas(events).length >= 2);
    await hostA.stop();
    // B would wait a minute for a request a dead host left; one handed over is taken at once.
    await host(await connect("owner-b"), clientB, "rB", 2, 60_000);
    await clientA.stop();

    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the run was not handed over")), 15_000);
    });
    const result = await Promise.race([run.result, late]).finally(() => clearTimeout(timer));
    expect(result).toEqual({ runId: "handover-1", status: "ok", text });
    expect(
      deltas(events)
        .map((d) => d.delta)
        .join(""),
    ).toBe(text);
    expect(fake.runs()).toHaveLength(1);
  });
});
