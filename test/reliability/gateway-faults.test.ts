import { appendFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunningBridge } from "../../src/app.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";
import { WarpClock } from "../helpers/warp-clock.js";
import { answersTo } from "../integration/tasks/commands-kit.js";
import { countBy, GroupTalk, inboxIds, logged, notices, seedLine } from "./support/fault-kit.js";

// The gateway side of the fault suite (issue 14): a gateway that drops the link in the middle
// of runs, one that accepts the connection but never finishes the handshake, and one that is
// connected but never answers requests. The real bridge against fake OpenClaw gateways: no
// crash, every message delivered exactly once when the fault clears (counted by idempotency
// key at the fake gateway, by envelope id in the inboxes), a clear log line, a metric that
// moved, and a notice in the audit chat when a node is gone long enough for people to care.

/** Monitor pace: a node counts as gone after a second (its backoff brings it back well within that). */
const HEALTH = { intervalMs: 100, graceMs: 1_000 };
/** The client's own defaults, which `startBridge` keeps: the tests jump over them on a WarpClock. */
const CONNECT_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

/** `agent` requests a fake gateway received for one idempotency key (sent again after a drop is fine). */
const agentRequests = (world: BridgeWorld, node: "ai-pc" | "office-mac", key: string) =>
  world.gateways[node].received.filter(
    (r) =>
      r.frame.method === "agent" && (r.frame.params as { idempotencyKey?: string }).idempotencyKey === key,
  );

async function metric(bridge: RunningBridge, name: string, labels?: Record<string, string>): Promise<number> {
  return (await bridge.metrics.value(name, labels)) ?? 0;
}

/** Another node's agent writes a line to ai-pc's inbox (office-mac unless said); returns its envelope id. */
function mailboxToAiPc(world: BridgeWorld, text: string, from: "office-mac" | "nas-agent" = "office-mac") {
  const { line, id } = seedLine(from, "ai-pc", text);
  appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), line);
  return { id, from };
}

/**
 * The mailbox line went through exactly once: one run at ai-pc under its id, and its answer
 * once in the sender's inbox (mirrored there after a delivery into office-mac's session,
 * which ran once too; appended for the mailbox-only nas-agent).
 */
async function mailboxDeliveredOnce(
  world: BridgeWorld,
  { id, from }: { id: string; from: "office-mac" | "nas-agent" },
  timeoutMs = 20_000,
): Promise<void> {
  const answerId = `re-${id}`;
  await waitFor(() => inboxIds(world.root, from).ids.includes(answerId), {
    what: `the answer to ${id} in to-${from}.jsonl`,
    timeoutMs,
  });
  expect(agentRuns(world, "ai-pc").filter((r) => r.idempotencyKey.startsWith(id))).toHaveLength(1);
  if (from === "office-mac") {
    expect(agentRuns(world, "office-mac").filter((r) => r.idempotencyKey.startsWith(answerId))).toHaveLength(
      1,
    );
  }
  expect(countBy(inboxIds(world.root, from).ids).get(answerId)).toBe(1);
}

/** `/tell ai-pc <text>` answered exactly once in its thread, run exactly once at ai-pc. */
async function toldOnce(world: BridgeWorld, messageId: string, marker: string, timeoutMs = 20_000) {
  await waitFor(() => answersTo(world, messageId).some((m) => m.text?.startsWith("[ai-pc]")), {
    what: `the [ai-pc] answer to "${marker}"`,
    timeoutMs,
  });
  expect(agentRuns(world, "ai-pc").filter((r) => r.message.includes(marker))).toHaveLength(1);
  expect(answersTo(world, messageId).filter((m) => m.text?.startsWith("[ai-pc]"))).toHaveLength(1);
}

/** The bridge's posts in the audit chat, by text: any seen twice is a duplicate. */
function duplicateAuditPosts(world: BridgeWorld): string[] {
  const texts = world.emu
    .messages(world.auditChat)
    .filter((m) => m.senderAppId === world.emu.bridge.appId && m.text)
    .map((m) => m.text!);
  return [...countBy(texts)].filter(([, n]) => n > 1).map(([text, n]) => `${text} ×${n}`);
}

/** The bridge's link to `node` is up (as ops sees it). */
const connected = async (bridge: RunningBridge, node: string) =>
  (await metric(bridge, "gateway_up", { node })) === 1;

describe("a gateway that drops the link", () => {
  it("again and again in the middle of runs: each run is awaited, not started twice; each answer arrives once", async () => {
    const world = await bridgeWorld({
      gateways: {
        "ai-pc": {
          script: { kind: "text", text: "第一步\n第二步\n第三步\n第四步\n完成", chunks: 5, delayMs: 150 },
        },
      },
    });
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    const gateway = world.gateways["ai-pc"];
    await waitFor(() => connected(bridge, "ai-pc"), { what: "ai-pc connected" });

    // Three sessions, so the three runs go at once.
    const lines = [
      mailboxToAiPc(world, "drop-甲 帮我跑一下 benchmark"),
      mailboxToAiPc(world, "drop-乙 帮我看看日志", "nas-agent"),
    ];
    const told = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc drop-丙 GPU 忙吗？");
    await waitFor(() => agentRuns(world, "ai-pc").filter((r) => r.status === "running").length === 3, {
      what: "three runs going at ai-pc",
    });
    // Three drops while they stream, each after the link came back.
    const reconnected = () =>
      sink
        .records()
        .filter((r) => r.msg === "gateway connected" && r.node === "ai-pc" && r.reconnect === true).length;
    for (let drop = 1; drop <= 3; drop++) {
      await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.status === "running"), {
        what: `a run going before drop ${drop}`,
      });
      gateway.dropConnections();
      await waitFor(() => reconnected() === drop, { what: `ai-pc back after drop ${drop}` });
    }

    for (const line of lines) await mailboxDeliveredOnce(world, line);
    await toldOnce(world, told.messageId, "drop-丙");
    // After a drop the client waits for accepted runs (agent.wait) instead of sending them again.
    for (const { id } of lines) expect(agentRequests(world, "ai-pc", id)).toHaveLength(1);
    expect(gateway.received.filter((r) => r.frame.method === "agent.wait").length).toBeGreaterThan(0);

    expect(logged(sink.lines, /^gateway connection lost; reconnecting/).length).toBeGreaterThanOrEqual(3);
    expect(await metric(bridge, "gateway_reconnects_total", { node: "ai-pc" })).toBe(3);
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "delivered" }),
    ).toBe(3);
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);
    // Back within a second each time: not worth a notice.
    expect(notices(world.emu, world.auditChat, "⚠")).toEqual([]);
    expect(duplicateAuditPosts(world)).toEqual([]);
    talk.stop();
  });

  it("for longer than the grace: people are told the node is offline and that its messages wait, then that it is back; the waiting message goes out once", async () => {
    const world = await bridgeWorld();
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    const gateway = world.gateways["ai-pc"];
    await waitFor(() => connected(bridge, "ai-pc"), { what: "ai-pc connected" });

    // Hung: sockets are accepted but nothing comes back, not even the challenge.
    gateway.stall(true);
    gateway.dropConnections();
    const line = mailboxToAiPc(world, "offline-甲 帮我跑一下 benchmark");
    const told = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc offline-乙 GPU 忙吗？");
    const down = await waitFor(() => notices(world.emu, world.auditChat, "⚠")[0], {
      what: "the notice that ai-pc is offline",
    });
    expect(down).toMatch(/^⚠ ai-pc is offline \(.+\)\. Messages and tasks for it wait in its outbox/);
    await waitFor(async () => (await metric(bridge, "outbox_depth", { outbox: "ai-pc" })) === 2, {
      what: "both messages waiting in ai-pc's outbox",
    });
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(0);
    expect(await metric(bridge, "health_problem", { check: "gateway:ai-pc" })).toBe(1);
    expect(await metric(bridge, "node_healthy", { node: "ai-pc" })).toBe(0);
    expect(agentRuns(world, "ai-pc")).toEqual([]);
    expect(logged(sink.lines, /^health check failing: gateway:ai-pc/, 50)).toHaveLength(1);

    gateway.stall(false);
    const back = await waitFor(() => notices(world.emu, world.auditChat, "✓")[0], {
      what: "the notice that ai-pc is back",
      timeoutMs: 20_000,
    });
    expect(back).toMatch(/^✓ ai-pc is back online/);
    await mailboxDeliveredOnce(world, line);
    await toldOnce(world, told.messageId, "offline-乙");
    expect(await metric(bridge, "outbox_depth", { outbox: "ai-pc" })).toBe(0);
    expect(await metric(bridge, "health_problem", { check: "gateway:ai-pc" })).toBe(0);
    expect(await metric(bridge, "health_transitions_total", { check: "gateway:ai-pc" })).toBe(2);
    expect(notices(world.emu, world.auditChat, "⚠")).toHaveLength(1);
    expect(notices(world.emu, world.auditChat, "✓")).toHaveLength(1);
    expect(duplicateAuditPosts(world)).toEqual([]);
    talk.stop();
  });
});

describe("a gateway that accepts the connection but never answers", () => {
  it("the handshake, from the start: each attempt times out, the first is logged; people are told; once it answers, the waiting message goes out once", async () => {
    const world = await bridgeWorld();
    const gateway = world.gateways["ai-pc"];
    // The socket is accepted and the challenge sent; the `connect` answering it is never answered.
    gateway.ignoreRequests(["connect"]);
    const clock = new WarpClock();
    // A grace longer than one handshake timeout, on the warped clock: the notice names why.
    const { bridge, sink } = await startWorldBridge(world, {
      health: { ...HEALTH, graceMs: CONNECT_TIMEOUT_MS + 2_000 },
      clock,
    });
    const line = mailboxToAiPc(world, "handshake-甲 帮我跑一下 benchmark");
    // Each attempt waits for its handshake deadline; the next one follows after the backoff.
    const connects = () => gateway.received.filter((r) => r.frame.method === "connect").length;
    for (let attempt = 1; attempt <= 2; attempt++) {
      await waitFor(() => connects() >= attempt, { what: `unanswered connect ${attempt}` });
      clock.warp(CONNECT_TIMEOUT_MS);
    }
    const down = await waitFor(() => notices(world.emu, world.auditChat, "⚠")[0], {
      what: "the notice that ai-pc is offline",
    });
    expect(down).toContain("ai-pc is offline");
    expect(down).toContain("did not complete the handshake in time");
    await waitFor(async () => (await metric(bridge, "outbox_depth", { outbox: "ai-pc" })) === 1, {
      what: "the message waiting in ai-pc's outbox",
    });
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(0);
    expect(await metric(bridge, "health_problem", { check: "gateway:ai-pc" })).toBe(1);
    // One line when the outage starts (not one per attempt), one when it is announced.
    const failed = logged(sink.lines, /^could not connect to the gateway; retrying/);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.err?.message).toContain("did not complete the handshake in time");
    expect(logged(sink.lines, /^health check failing: gateway:ai-pc: .*handshake in time/, 50)).toHaveLength(
      1,
    );

    // It answers again: the attempt under way (its connect lost) is cut, the next one connects.
    gateway.ignoreRequests(false);
    gateway.dropConnections();
    await waitFor(() => notices(world.emu, world.auditChat, "✓")[0], {
      what: "the notice that ai-pc is back",
      timeoutMs: 20_000,
    });
    await mailboxDeliveredOnce(world, line);
    expect(agentRequests(world, "ai-pc", line.id)).toHaveLength(1);
    expect(await metric(bridge, "health_transitions_total", { check: "gateway:ai-pc" })).toBe(2);
    expect(notices(world.emu, world.auditChat, "⚠")).toHaveLength(1);
    expect(duplicateAuditPosts(world)).toEqual([]);
  });

  it("requests while connected and ticking (its request handling hung): the delivery times out and is retried; once it answers, it runs once", async () => {
    const world = await bridgeWorld();
    const clock = new WarpClock();
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH, clock });
    const talk = new GroupTalk(world.emu);
    const gateway = world.gateways["ai-pc"];
    await waitFor(() => connected(bridge, "ai-pc"), { what: "ai-pc connected" });

    gateway.ignoreRequests(true);
    const told = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc hung-甲 GPU 忙吗？");
    const line = mailboxToAiPc(world, "hung-乙 帮我跑一下 benchmark");
    const agentCalls = () => gateway.received.filter((r) => r.frame.method === "agent").length;
    await waitFor(() => agentCalls() === 2, { what: "both agent requests at the hung gateway" });
    expect(agentRuns(world, "ai-pc")).toEqual([]);

    // Nothing answers within the request timeout: both deliveries fail and are tried again.
    clock.warp(REQUEST_TIMEOUT_MS);
    await waitFor(
      async () =>
        (await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "retried" })) >=
        2,
      {
        what: "both deliveries counted as retried",
      },
    );
    const failures = logged(sink.lines, /^delivery failed; will retry/).filter(
      (r) => r.err?.code === "CB_GATEWAY_TIMEOUT",
    );
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]!.err?.message).toContain("agent got no answer in 15000 ms");
    // The link itself is fine (ticks flow): the node stays online, in the metrics too.
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);

    gateway.ignoreRequests(false);
    // The retries may have gone out while it still ignored them: let their timeouts pass too.
    clock.warp(REQUEST_TIMEOUT_MS);
    await mailboxDeliveredOnce(world, line);
    await toldOnce(world, told.messageId, "hung-甲");
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "delivered" }),
    ).toBe(2);
    expect(bridge.relay.deadLetterList()).toEqual([]);
    expect(duplicateAuditPosts(world)).toEqual([]);
    talk.stop();
  });
});
