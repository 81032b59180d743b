import { afterEach, describe, expect, it, vi } from "vitest";
import { nodeSchema, type NodeConfig } from "../../../src/config/index.js";
import { ClawbridgeError, ManualClock, createLogger } from "../../../src/core/index.js";
import type {
  GatewayClient,
  GatewayHealth,
  ObservedEvent,
  RunAgentRequest,
  RunHandle,
  StateListener,
} from "../../../src/gateway/types.js";
import type { NodeStatusSnapshot } from "../../../src/mailbox/index.js";
import {
  NodePool,
  computeNodeHealth,
  renderProblem,
  selectNode,
  type NodeChange,
  type NodeHealth,
} from "../../../src/nodes/index.js";
import { logSink } from "../../helpers/log-sink.js";

const MIN = 60_000;

/** A gateway client that reports whatever health the test scripts, and tells listeners. */
class ScriptedGateway implements GatewayClient {
  private current: GatewayHealth;
  private readonly listeners = new Set<StateListener>();

  constructor(
    readonly node: string,
    initial: Partial<GatewayHealth> = {},
  ) {
    this.current = {
      node,
      url: `ws://10.0.0.9:18789`,
      state: "idle",
      runningRuns: 0,
      failures: 0,
      ...initial,
    };
  }

  /** Replaces the health (not merged: a real client rebuilds it) and notifies listeners. */
  script(next: Partial<GatewayHealth>): void {
    this.current = {
      node: this.node,
      url: this.current.url,
      runningRuns: 0,
      failures: 0,
      state: "idle",
      ...next,
    };
    for (const listener of [...this.listeners]) listener(this.health());
  }

  start(): void {}
  async stop(): Promise<void> {
    this.script({ ...this.current, state: "stopped" });
  }
  health(): GatewayHealth {
    return { ...this.current };
  }
  async ready(): Promise<void> {
    if (this.current.state !== "connected") {
      throw new ClawbridgeError("CB_GATEWAY_UNREACHABLE", `${this.node} is ${this.current.state}`);
    }
  }
  async request<T>(method: string): Promise<T> {
    throw new ClawbridgeError("CB_GATEWAY_REQUEST_FAILED", `scripted gateway does not answer ${method}`);
  }
  runAgent(_request: RunAgentRequest): RunHandle {
    throw new ClawbridgeError("CB_GATEWAY_RUN_FAILED", "scripted gateway runs nothing");
  }
  attachRun(): RunHandle {
    throw new ClawbridgeError("CB_GATEWAY_RUN_FAILED", "scripted gateway runs nothing");
  }
  observe(_listener: (event: ObservedEvent) => void): () => void {
    return () => {};
  }
  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The status folder in memory; `fail` makes the next reads throw like an unmounted share. */
class MemoryStatuses {
  files: NodeStatusSnapshot[] = [];
  reads = 0;
  fail: Error | undefined;
  async readStatuses(): Promise<NodeStatusSnapshot[]> {
    this.reads += 1;
    if (this.fail) throw this.fail;
    return this.files.map((file) => ({ ...file }));
  }
}

const node = (input: Record<string, unknown>): NodeConfig => nodeSchema.parse(input);

function setup(nodes: NodeConfig[] = defaultNodes()) {
  const clock = new ManualClock();
  const statuses = new MemoryStatuses();
  const gateways = new Map<string, ScriptedGateway>();
  for (const config of nodes) if (config.url) gateways.set(config.name, new ScriptedGateway(config.name));
  const sink = logSink();
  const logger = createLogger({ destination: sink.stream, pretty: false, level: "debug" });
  const pool = new NodePool({ nodes, gateways, mailbox: statuses, clock, logger });
  pools.push(pool);
  const gw = (name: string) => gateways.get(name)!;
  return { pool, clock, statuses, gw, sink };
}

function defaultNodes(): NodeConfig[] {
  return [
    node({
      name: "ai-pc",
      displayName: "AI电脑",
      url: "ws://192.168.1.52:18789",
      tags: ["gpu"],
      maxConcurrent: 2,
    }),
    node({ name: "office-mac", url: "ws://192.168.1.60:18789", tags: ["GPU", "mac"] }),
    node({ name: "nas-agent", tags: ["storage"] }),
  ];
}

const pools: NodePool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.stop();
});

describe("gateway node health", () => {
  it("connected → online and healthy, with latency and config details", () => {
    const { pool, gw, clock } = setup();
    gw("ai-pc").script({ state: "connected", connectedAt: clock.now() - MIN, latencyMs: 12 });
    expect(pool.healthOf("AI-PC")).toMatchObject({
      name: "ai-pc",
      displayName: "AI电脑",
      kind: "gateway",
      tags: ["gpu"],
      maxConcurrent: 2,
      running: 0,
      status: "online",
      healthy: true,
      latencyMs: 12,
      lastSeen: clock.now(),
    });
    expect(pool.healthOf("ai-pc")?.offlineForMs).toBeUndefined();
    expect(pool.healthOf("ai-pc")?.gateway?.state).toBe("connected");
  });

  it("backoff after failures → offline, measured from when the pool last saw it connected", async () => {
    const { pool, gw, clock } = setup();
    await pool.start();
    gw("ai-pc").script({ state: "connected", connectedAt: clock.now(), latencyMs: 8 });
    clock.advance(MIN);
    gw("ai-pc").script({
      state: "backoff",
      failures: 3,
      latencyMs: 8,
      lastError: { code: "CB_GATEWAY_UNREACHABLE", message: "connect ECONNREFUSED", fix: "start it", at: 0 },
    });
    clock.advance(3 * MIN);
    const health = pool.healthOf("ai-pc")!;
    expect(health).toMatchObject({ status: "offline", healthy: false, offlineForMs: 3 * MIN });
    expect(health.lastError).toEqual({
      code: "CB_GATEWAY_UNREACHABLE",
      message: "connect ECONNREFUSED",
      fix: "start it",
    });
    expect(health.latencyMs).toBeUndefined(); // an old ping says nothing about an offline node
  });

  it("offline without the pool watching: the client's last tick tells when it was seen", () => {
    const { pool, gw, clock } = setup();
    gw("ai-pc").script({
      state: "backoff",
      failures: 2,
      connectedAt: clock.now() - 10 * MIN,
      lastTickAt: clock.now() - 4 * MIN,
    });
    expect(pool.healthOf("ai-pc")).toMatchObject({ status: "offline", offlineForMs: 4 * MIN });
  });

  it("maps the other link states: connecting, retrying, idle, stopped, protocol mismatch", () => {
    const { pool, gw } = setup();
    const status = (health: Partial<GatewayHealth>) => {
      gw("office-mac").script(health);
      return pool.healthOf("office-mac")!.status;
    };
    expect(status({ state: "connecting" })).toBe("connecting");
    expect(status({ state: "connecting", failures: 2 })).toBe("offline");
    expect(status({ state: "idle" })).toBe("unknown");
    expect(status({ state: "stopped" })).toBe("offline");
    expect(status({ state: "protocol-mismatch" })).toBe("offline");
  });

  it("pairing → pairing with the command to run; auth-failed keeps the fix", () => {
    const { pool, gw, clock } = setup();
    const command = "openclaw devices approve 3f2a9c";
    gw("ai-pc").script({ state: "pairing", pairing: { requestId: "3f2a9c", command, since: clock.now() } });
    expect(pool.healthOf("ai-pc")).toMatchObject({
      status: "pairing",
      healthy: false,
      pairing: { requestId: "3f2a9c", command },
    });
    gw("office-mac").script({
      state: "auth-failed",
      lastError: { code: "CB_GATEWAY_AUTH", message: "token rejected", fix: "check OFFICE_MAC_TOKEN", at: 1 },
    });
    expect(pool.healthOf("office-mac")).toMatchObject({
      status: "auth-failed",
      healthy: false,
      lastError: { code: "CB_GATEWAY_AUTH", fix: "check OFFICE_MAC_TOKEN" },
    });
  });

  it("a node with a url but no client is unknown and says why", () => {
    const nodes = [node({ name: "lonely", url: "ws://10.0.0.1:18789" })];
    const pool = new NodePool({ nodes, clock: new ManualClock() });
    expect(pool.healthOf("lonely")).toMatchObject({
      status: "unknown",
      healthy: false,
      lastError: { code: "CB_NODE_NO_GATEWAY" },
    });
  });
});

describe("mailbox-only liveness", () => {
  const status = (clock: ManualClock, ageMs: number, extra: Partial<NodeStatusSnapshot> = {}) => ({
    node: "nas-agent",
    updatedAt: clock.now() - ageMs,
    raw: {},
    ...extra,
  });

  it("is unknown before the first read, and unknown with a fix when there is no status file", async () => {
    const { pool } = setup();
    expect(pool.healthOf("nas-agent")).toMatchObject({ kind: "mailbox", status: "unknown", healthy: false });
    expect(pool.healthOf("nas-agent")?.lastError).toBeUndefined();
    await pool.refreshMailboxLiveness();
    const health = pool.healthOf("nas-agent")!;
    expect(health).toMatchObject({
      status: "unknown",
      healthy: false,
      lastError: { code: "CB_NODE_STATUS_MISSING" },
    });
    expect(health.lastError?.fix).toContain("status/nas-agent.json");
  });

  it("is live within 2 × its own interval, stale beyond, with offlineForMs since the update", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, 9 * MIN, { intervalMs: 5 * MIN })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")).toMatchObject({
      status: "mailbox-live",
      healthy: true,
      lastSeen: clock.now() - 9 * MIN,
    });
    statuses.files = [status(clock, 11 * MIN, { intervalMs: 5 * MIN })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")).toMatchObject({
      status: "mailbox-stale",
      healthy: false,
      offlineForMs: 11 * MIN,
      lastError: { code: "CB_NODE_STATUS_STALE" },
    });
  });

  it("without a stated interval the window is 5 minutes", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, 4 * MIN)];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-live");
    statuses.files = [status(clock, 6 * MIN)];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-stale");
  });

  it("is judged as of the last read: a fast writer does not go stale between polls", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, 1000, { intervalMs: 2000 })];
    await pool.refreshMailboxLiveness();
    clock.advance(14_000);
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-live");
    await pool.refreshMailboxLiveness(); // the same old file read again: now it is stale
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-stale");
  });

  it("matches status files ignoring case", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, MIN, { node: "NAS-Agent" })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-live");
  });

  it("a broken status file: live by its fresh mtime, stale when old, the problem reported", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, MIN, { error: "invalid JSON: Unexpected end of JSON input" })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")).toMatchObject({
      status: "mailbox-live",
      healthy: true,
      lastError: { code: "CB_NODE_STATUS_INVALID" },
    });
    expect(pool.healthOf("nas-agent")?.lastError?.message).toContain("Unexpected end of JSON input");
    statuses.files = [status(clock, 20 * MIN, { error: "not a JSON object" })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")).toMatchObject({ status: "mailbox-stale", healthy: false });
  });

  it("a failed read is logged, not thrown; the last snapshot stays and ages", async () => {
    const { pool, statuses, clock, sink } = setup();
    statuses.files = [status(clock, 0)];
    await pool.refreshMailboxLiveness();
    statuses.fail = new ClawbridgeError("CB_MAILBOX_IO", "EHOSTDOWN reading status/", {
      fix: "remount the share",
    });
    clock.advance(2 * MIN);
    await expect(pool.refreshMailboxLiveness()).resolves.toBeUndefined();
    expect(pool.healthOf("nas-agent")?.status).toBe("mailbox-live");
    clock.advance(4 * MIN);
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("nas-agent")).toMatchObject({
      status: "mailbox-stale",
      lastError: { code: "CB_MAILBOX_IO", fix: "remount the share" },
    });
    const warnings = sink
      .records()
      .filter((r) => r.msg === "reading status files failed; keeping the last ones");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ component: "nodes", err: { message: "EHOSTDOWN reading status/" } });
  });

  it("gateway nodes ignore status files", async () => {
    const { pool, statuses, clock } = setup();
    statuses.files = [status(clock, 0, { node: "ai-pc" })];
    await pool.refreshMailboxLiveness();
    expect(pool.healthOf("ai-pc")?.status).toBe("unknown"); // idle link
  });
});

describe("selection", () => {
  function healthyPool() {
    const context = setup();
    const { gw, statuses, clock, pool } = context;
    gw("ai-pc").script({ state: "connected", latencyMs: 30 });
    gw("office-mac").script({ state: "connected", latencyMs: 10 });
    statuses.files = [{ node: "nas-agent", updatedAt: clock.now(), raw: {} }];
    return { ...context, ready: pool.refreshMailboxLiveness() };
  }

  it("filters by tag ignoring case and '#', then prefers lower latency on a tie", async () => {
    const { pool, ready } = healthyPool();
    await ready;
    const picked = pool.select({ tag: "#GPU" });
    expect(picked).toMatchObject({ ok: true, node: { name: "office-mac" } });
    expect(pool.select({ tag: "storage" })).toMatchObject({ ok: true, node: { name: "nas-agent" } });
    expect(pool.select({ tag: "storage", kind: "gateway" })).toMatchObject({
      ok: false,
      reason: "no-node-with-tag",
      candidates: [],
    });
    expect(pool.select({ tag: "tpu" })).toMatchObject({ ok: false, reason: "no-node-with-tag" });
  });

  it("prefers the node with fewest running tasks, and never hands out a slot itself", async () => {
    const { pool, ready } = healthyPool();
    await ready;
    expect(pool.acquire("office-mac")).toBeDefined();
    expect(pool.select({ tag: "gpu" })).toMatchObject({ ok: true, node: { name: "ai-pc", running: 0 } });
    expect(pool.running("ai-pc")).toBe(0);
    expect(pool.acquire("ai-pc")).toBeDefined();
    // ai-pc 1/2, office-mac 1/1: only ai-pc has room.
    expect(pool.select({ tag: "gpu" })).toMatchObject({ ok: true, node: { name: "ai-pc", running: 1 } });
    expect(pool.acquire("ai-pc")).toBeDefined();
    const full = pool.select({ tag: "gpu" });
    expect(full).toMatchObject({ ok: false, reason: "none-free" });
    expect(!full.ok && full.candidates.map((n) => n.name)).toEqual(["ai-pc", "office-mac"]);
  });

  it("falls back to config order when running and latency tie", () => {
    const nodes: NodeHealth[] = ["b", "a"].map((name) => ({
      name,
      kind: "mailbox",
      tags: [],
      maxConcurrent: 1,
      running: 0,
      status: "mailbox-live",
      healthy: true,
    }));
    expect(selectNode(nodes)).toMatchObject({ ok: true, node: { name: "b" } });
  });

  it("none-healthy lists the matching nodes that are down", () => {
    const { pool, gw } = setup();
    gw("ai-pc").script({ state: "backoff", failures: 1 });
    gw("office-mac").script({ state: "pairing" });
    const none = pool.select({ tag: "gpu" });
    expect(none).toMatchObject({ ok: false, reason: "none-healthy" });
    expect(!none.ok && none.candidates.map((n) => `${n.name}:${n.status}`)).toEqual([
      "ai-pc:offline",
      "office-mac:pairing",
    ]);
  });

  it("a named node: unknown, healthy and free, busy, down, or not a gateway", async () => {
    const { pool, gw, ready } = healthyPool();
    await ready;
    expect(pool.select({ node: "mars" })).toEqual({ ok: false, reason: "unknown-node", candidates: [] });
    expect(pool.select({ node: "OFFICE-MAC" })).toMatchObject({ ok: true, node: { name: "office-mac" } });
    pool.acquire("office-mac");
    expect(pool.select({ node: "office-mac" })).toMatchObject({ ok: false, reason: "none-free" });
    gw("ai-pc").script({ state: "backoff", failures: 1 });
    expect(pool.select({ node: "ai-pc" })).toMatchObject({
      ok: false,
      reason: "none-healthy",
      candidates: [{ name: "ai-pc", status: "offline" }],
    });
    expect(pool.select({ node: "nas-agent" })).toMatchObject({ ok: true, node: { kind: "mailbox" } });
    expect(pool.select({ node: "nas-agent", kind: "gateway" })).toMatchObject({
      ok: false,
      reason: "unknown-node",
      candidates: [{ name: "nas-agent" }],
    });
  });
});

describe("load accounting", () => {
  it("acquire takes slots up to maxConcurrent; release is idempotent", () => {
    const { pool } = setup();
    const first = pool.acquire("AI-PC")!;
    const second = pool.acquire("ai-pc")!;
    expect(first.node).toBe("ai-pc");
    expect(pool.acquire("ai-pc")).toBeUndefined();
    expect(pool.running("ai-pc")).toBe(2);
    expect(pool.healthOf("ai-pc")?.running).toBe(2);
    first.release();
    first.release();
    expect(first.released).toBe(true);
    expect(pool.running("ai-pc")).toBe(1);
    second.release();
    expect(pool.running("ai-pc")).toBe(0);
    expect(pool.acquire("mars")).toBeUndefined();
    expect(pool.running("mars")).toBe(0);
  });
});

describe("onChange", () => {
  it("fires on gateway status changes and new pairing requests, not on latency alone", async () => {
    const { pool, gw, clock } = setup();
    const changes: NodeChange[] = [];
    pool.onChange((change) => changes.push(change));
    await pool.start();
    gw("ai-pc").script({ state: "connected", latencyMs: 10 });
    gw("ai-pc").script({ state: "connected", latencyMs: 40 });
    gw("ai-pc").script({ state: "pairing", pairing: { requestId: "r1", command: "c1", since: clock.now() } });
    gw("ai-pc").script({ state: "pairing", pairing: { requestId: "r1", command: "c1", since: clock.now() } });
    gw("ai-pc").script({ state: "pairing", pairing: { requestId: "r2", command: "c2", since: clock.now() } });
    expect(changes.map((c) => `${c.previous.status}→${c.node.status}`)).toEqual([
      "unknown→online",
      "online→pairing",
      "pairing→pairing",
    ]);
    expect(changes[2]?.node.pairing?.requestId).toBe("r2");
  });

  it("fires when a refresh changes mailbox liveness; unsubscribe stops it; a throwing listener is contained", async () => {
    const { pool, statuses, clock, sink } = setup();
    const seen: string[] = [];
    pool.onChange(() => {
      throw new Error("listener bug");
    });
    const unsubscribe = pool.onChange(({ node }) => seen.push(`${node.name}:${node.status}`));
    statuses.files = [{ node: "nas-agent", updatedAt: clock.now(), raw: {} }];
    await pool.start();
    await pool.refreshMailboxLiveness(); // nothing changed
    clock.advance(6 * MIN);
    await pool.refreshMailboxLiveness();
    unsubscribe();
    statuses.files = [{ node: "nas-agent", updatedAt: clock.now(), raw: {} }];
    await pool.refreshMailboxLiveness();
    expect(seen).toEqual(["nas-agent:mailbox-live", "nas-agent:mailbox-stale"]);
    expect(sink.records().filter((r) => r.msg === "node change listener failed")).toHaveLength(3);
    expect(sink.records().some((r) => r.msg === "node nas-agent: mailbox-live → mailbox-stale")).toBe(true);
  });

  it("start() polls every statusPollMs; stop() ends the poll and detaches from gateways", async () => {
    vi.useFakeTimers();
    try {
      const { pool, gw, statuses } = setup();
      const changes: NodeChange[] = [];
      pool.onChange((change) => changes.push(change));
      await pool.start({ statusPollMs: 1000 });
      expect(statuses.reads).toBe(1);
      await vi.advanceTimersByTimeAsync(2500);
      expect(statuses.reads).toBe(3);
      pool.stop();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(statuses.reads).toBe(3);
      gw("ai-pc").script({ state: "connected" });
      expect(changes).toEqual([]);
      expect(pool.healthOf("ai-pc")?.status).toBe("online"); // still answers
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("updateTags", () => {
  it("replaces a node's tags for health and selection (SIGHUP reload)", async () => {
    const { pool, gw } = setup();
    gw("ai-pc").script({ state: "connected" });
    expect(pool.select({ tag: "cuda" })).toMatchObject({ ok: false, reason: "no-node-with-tag" });
    expect(pool.updateTags("AI-PC", ["gpu", "cuda"])).toBe(true);
    expect(pool.healthOf("ai-pc")?.tags).toEqual(["gpu", "cuda"]);
    expect(pool.select({ tag: "#Cuda" })).toMatchObject({ ok: true, node: { name: "ai-pc" } });
    expect(pool.updateTags("mars", ["x"])).toBe(false);
  });
});

describe("computeNodeHealth", () => {
  it("is pure: the same input gives the same answer", () => {
    const input = {
      node: node({ name: "nas-agent" }),
      running: 0,
      now: 1_000_000,
      mailbox: {
        checkedAt: 1_000_000,
        status: { node: "nas-agent", updatedAt: 400_000, raw: {}, intervalMs: 100_000 },
      },
    };
    const first = computeNodeHealth(input);
    // As data: texts carry a render function, new each time, that says the same.
    const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
    expect(plain(computeNodeHealth(input))).toEqual(plain(first));
    expect(first.lastError && renderProblem(first.lastError, "zh-CN").message).toBe(
      "status/nas-agent.json 最近一次更新在 10 分钟前（应在 3 分钟内）",
    );
    expect(first).toMatchObject({ status: "mailbox-stale", offlineForMs: 600_000, lastSeen: 400_000 });
  });
});
