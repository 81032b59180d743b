import { describe, expect, it } from "vitest";
import type { RunningBridge } from "../../src/app.js";
import { PING_TIMEOUT_SEC } from "../../src/feishu/long-connection.js";
import type { ScriptSource } from "../../src/sim/fake-gateway.js";
import type { FeishuEmulator } from "../../src/sim/feishu/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";
import { answersTo } from "../integration/tasks/commands-kit.js";
import { cardOf, cardTitle, finalOf } from "../integration/tasks/lifecycle-kit.js";
import { countBy, GroupTalk, logged, notices } from "./support/fault-kit.js";

// The Feishu side of the fault suite (issue 14): storms of 5xx and 429 on sends, replies and
// card patches; a long connection dropped again and again, and one that stays open but goes
// silent. Each with the real bridge, the real SDK against the emulator and the fake gateways:
// no crash, every command handled and answered exactly once when the fault clears, a clear
// log line, a metric that moved, and a notice in the audit chat where a person should know.

const MESSAGES_PATH = "/open-apis/im/v1/messages";
/** Monitor pace for these tests: a problem counts after a second (gateways connect well within it). */
const HEALTH = { intervalMs: 100, graceMs: 1_000 };

/** The bridge's messages in `chatId` keyed by where and what they are; a key seen twice is a duplicate post. */
function duplicatePosts(emu: FeishuEmulator, chatId: string): string[] {
  const keys = emu
    .messages(chatId)
    .filter((m) => m.senderAppId === emu.bridge.appId)
    .map((m) => `${m.parentId ?? "-"} ${m.msgType} ${m.text ?? ""}`);
  return [...countBy(keys)].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
}

/** Tasks stream for a couple of seconds (their cards are patched meanwhile); other runs answer at once. */
const slowTasks: ScriptSource = ({ message }) =>
  message.includes("任务")
    ? { kind: "text", text: "step 1\nstep 2\nstep 3\nstep 4\nstep 5\nall done", chunks: 6, delayMs: 350 }
    : { kind: "text", text: "GPU 空闲", chunks: 1, delayMs: 1 };

/** Runs at ai-pc whose prompt holds `marker`. */
const runsFor = (world: BridgeWorld, marker: string) =>
  world.gateways["ai-pc"].runs().filter((r) => r.origin === "agent" && r.message.includes(marker));

/** A metric's value now (0 when it has no such series yet). */
async function metric(bridge: RunningBridge, name: string, labels?: Record<string, string>): Promise<number> {
  return (await bridge.metrics.value(name, labels)) ?? 0;
}

/** `/tell ai-pc <text>` as 小王, said the way Feishu delivers it (again until acknowledged). */
function tellAiPc(world: BridgeWorld, talk: GroupTalk, text: string) {
  return talk.say(world.emu.defaultChat, world.wang, `/tell ai-pc ${text}`);
}

/** Every `/tell` answered in its thread by exactly one `[ai-pc]` post, and run exactly once at ai-pc. */
async function eachToldOnce(
  world: BridgeWorld,
  told: { messageId: string; marker: string }[],
  timeoutMs = 20_000,
) {
  for (const { messageId, marker } of told) {
    await waitFor(() => answersTo(world, messageId).some((m) => m.text?.startsWith("[ai-pc]")), {
      what: `the [ai-pc] answer to "${marker}"`,
      timeoutMs,
    });
  }
  for (const { messageId, marker } of told) {
    expect(runsFor(world, marker), `runs of "${marker}"`).toHaveLength(1);
    expect(answersTo(world, messageId).filter((m) => m.text?.startsWith("[ai-pc]"))).toHaveLength(1);
  }
}

describe("Feishu outbound storms", () => {
  it("5xx on sends, replies and card patches (some committed before the error): every answer and card lands exactly once", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowTasks } } });
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    // A task whose card is being patched while the storm blows.
    const run = talk.say(world.emu.defaultChat, world.wang, "/run ai-pc 5xx-任务 跑一下 benchmark");
    await waitFor(() => cardOf(world, run), { what: "the task card" });

    // The first two posts take effect but are answered 502 (the uuid must keep their retry
    // from posting twice); then every post and every patch fails for a while.
    world.emu.fault({ method: "POST", path: MESSAGES_PATH, commitThenFail: true, status: 502, times: 2 });
    world.emu.fault({ method: "POST", path: MESSAGES_PATH, status: 503, forMs: 1_500 });
    world.emu.fault({ method: "PATCH", path: `${MESSAGES_PATH}/`, status: 500, forMs: 1_500 });
    const told = ["5xx-甲", "5xx-乙", "5xx-丙"].map((marker) => ({
      marker,
      messageId: tellAiPc(world, talk, `${marker} 今天 GPU 忙吗？`).messageId,
    }));

    await eachToldOnce(world, told);
    await waitFor(() => cardTitle(cardOf(world, run)).includes(" · done · "), {
      what: () => `the task card done (now "${cardTitle(cardOf(world, run))}")`,
      timeoutMs: 20_000,
    });
    await waitFor(() => finalOf(world, run), { what: "the task's final message" });
    expect(runsFor(world, "5xx-任务")).toHaveLength(1);
    expect(answersTo(world, run.messageId).filter((m) => m.msgType === "interactive")).toHaveLength(1);
    expect(duplicatePosts(world.emu, world.emu.defaultChat)).toEqual([]);
    expect(duplicatePosts(world.emu, world.auditChat)).toEqual([]);

    // The storm really hit (sends, replies and patches), and the bridge said so and counted it.
    const faulted = world.emu.calls.filter((c) => c.faulted);
    expect(faulted.filter((c) => c.method === "POST").length).toBeGreaterThanOrEqual(3);
    expect(faulted.filter((c) => c.method === "PATCH").length).toBeGreaterThanOrEqual(1);
    expect(logged(sink.lines, /^Feishu (send|reply) failed; retrying in \d+ ms/).length).toBeGreaterThan(0);
    expect(logged(sink.lines, /^Feishu patch failed; retrying in \d+ ms/).length).toBeGreaterThan(0);
    expect(await metric(bridge, "feishu_calls_total", { outcome: "retried" })).toBeGreaterThanOrEqual(4);
    expect(await metric(bridge, "feishu_calls_total", { outcome: "failed" })).toBe(0);
    // Nothing gave up: no dead letters, no chat post abandoned.
    expect(bridge.relay.deadLetterList()).toEqual([]);
    expect(await metric(bridge, "envelopes_total", { route: "chat", outcome: "dead_letter" })).toBe(0);
    // Feishu's own trouble is not the intake's: no false alarm in the audit chat.
    expect(notices(world.emu, world.auditChat, "⚠")).toEqual([]);
    talk.stop();
  });

  it("429 storms on sends and patches, app-wide and per chat: waited out, nothing lost or doubled", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowTasks } } });
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    const run = talk.say(world.emu.defaultChat, world.wang, "/run ai-pc 429-任务 跑一下 benchmark");
    await waitFor(() => cardOf(world, run), { what: "the task card" });

    // Two app-wide limits (HTTP 429, 99991400, reset in 1 s), a per-chat limit (230020), and
    // patches limited too.
    world.emu.fault({ method: "POST", path: MESSAGES_PATH, status: 429, resetSec: 1, times: 2 });
    world.emu.fault({
      method: "POST",
      path: MESSAGES_PATH,
      status: 400,
      code: 230020,
      msg: "frequency limit",
    });
    world.emu.fault({ method: "PATCH", path: `${MESSAGES_PATH}/`, status: 429, resetSec: 1, times: 2 });
    const told = ["429-甲", "429-乙"].map((marker) => ({
      marker,
      messageId: tellAiPc(world, talk, `${marker} 今天 GPU 忙吗？`).messageId,
    }));

    await eachToldOnce(world, told);
    await waitFor(() => cardTitle(cardOf(world, run)).includes(" · done · "), {
      what: () => `the task card done (now "${cardTitle(cardOf(world, run))}")`,
      timeoutMs: 20_000,
    });
    await waitFor(() => finalOf(world, run), { what: "the task's final message" });
    expect(runsFor(world, "429-任务")).toHaveLength(1);
    expect(duplicatePosts(world.emu, world.emu.defaultChat)).toEqual([]);
    expect(duplicatePosts(world.emu, world.auditChat)).toEqual([]);

    expect(world.emu.calls.filter((c) => c.faulted && c.status === 429).length).toBe(4);
    expect(
      logged(sink.lines, /^Feishu (send|reply) rate-limited; retrying in \d+ ms/).length,
    ).toBeGreaterThanOrEqual(3);
    expect(
      logged(sink.lines, /^Feishu patch rate-limited; retrying in \d+ ms/).length,
    ).toBeGreaterThanOrEqual(1);
    expect(await metric(bridge, "feishu_calls_total", { outcome: "rate_limited" })).toBeGreaterThanOrEqual(5);
    expect(await metric(bridge, "feishu_rate_limit_waits_total")).toBeGreaterThanOrEqual(5);
    expect(await metric(bridge, "feishu_calls_total", { outcome: "failed" })).toBe(0);
    expect(bridge.relay.deadLetterList()).toEqual([]);
    expect(notices(world.emu, world.auditChat, "⚠")).toEqual([]);
    talk.stop();
  });
});

describe("the Feishu long connection", () => {
  it("dropped again and again, once with Feishu refusing the reconnect for a while: every command handled once; the long outage noticed and its end too", async () => {
    const world = await bridgeWorld();
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    const connected = () => bridge.feishu!.health().intake === "connected" && world.emu.wsClients() === 1;
    // Failed reconnects come back after 0.2 s instead of 5: the SDK learns that on its next connection.
    world.emu.setLongConnectionConfig({ reconnectIntervalSec: 0.2 });

    const told: { messageId: string; marker: string }[] = [];
    const drops = 6;
    for (let round = 1; round <= drops; round++) {
      const marker = `drop-${round}`;
      // Said just before the drop (its push or its ack may die with the socket) or just after
      // (it waits in Feishu's queue for the next connection).
      if (round % 2 === 1)
        told.push({ marker, messageId: tellAiPc(world, talk, `${marker} 还在吗？`).messageId });
      world.emu.dropLongConnections();
      if (round % 2 === 0)
        told.push({ marker, messageId: tellAiPc(world, talk, `${marker} 还在吗？`).messageId });
      await waitFor(connected, { what: `the long connection back after drop ${round}` });
    }
    await eachToldOnce(world, told);
    expect(notices(world.emu, world.auditChat, "⚠"), "brief drops are not worth a notice").toEqual([]);

    // Now Feishu refuses the endpoint for longer than the grace: people are told, and told again when it is over.
    world.emu.fault({ path: "/callback/ws/endpoint", status: 503, forMs: 2_500 });
    world.emu.dropLongConnections();
    const outage = { marker: "outage", messageId: tellAiPc(world, talk, "outage 还在吗？").messageId };
    const down = await waitFor(() => notices(world.emu, world.auditChat, "⚠")[0], {
      what: "the notice that Feishu events do not arrive",
    });
    expect(down).toContain("does not receive Feishu events");
    expect(await metric(bridge, "health_problem", { check: "feishu_intake" })).toBe(1);
    expect(await metric(bridge, "feishu_intake_up")).toBe(0);
    expect((await fetch(`${bridge.opsUrl}/readyz`)).status).toBe(503);
    await waitFor(() => notices(world.emu, world.auditChat, "✓")[0], {
      what: "the notice that Feishu events arrive again",
      timeoutMs: 15_000,
    });
    await eachToldOnce(world, [outage]);
    expect(await metric(bridge, "health_problem", { check: "feishu_intake" })).toBe(0);
    expect(await metric(bridge, "health_transitions_total", { check: "feishu_intake" })).toBe(2);
    expect(await metric(bridge, "feishu_intake_up")).toBe(1);
    expect(notices(world.emu, world.auditChat, "⚠")).toHaveLength(1);
    expect(notices(world.emu, world.auditChat, "✓")).toHaveLength(1);

    // Every loss is in the log and the metric; nothing was posted twice.
    expect(logged(sink.lines, /^Feishu long connection lost; reconnecting/).length).toBe(drops + 1);
    expect(await metric(bridge, "feishu_reconnects_total")).toBe(drops + 1);
    expect(logged(sink.lines, /^health check failing: feishu_intake/, 50)).toHaveLength(1);
    expect(duplicatePosts(world.emu, world.emu.defaultChat)).toEqual([]);
    expect(duplicatePosts(world.emu, world.auditChat)).toEqual([]);
    // Every event the bridge handled it handled once; redeliveries were recognised as such.
    const handled = await metric(bridge, "intake_events_total", { verdict: "handled" });
    expect(handled).toBe(told.length + 1);
    talk.stop();
  });

  it("open but silent (a half-open link): the SDK's ping watchdog gives up on it, reconnects, and the command said meanwhile is handled once", async () => {
    const world = await bridgeWorld();
    const { bridge, sink } = await startWorldBridge(world, { health: HEALTH });
    const talk = new GroupTalk(world.emu);
    // The SDK re-arms its watchdog at every ping, so it only ever fires when pings are further
    // apart than its timeout (Feishu's are 120 s apart): here just one second more. The SDK
    // learns the interval on its next connection.
    world.emu.setLongConnectionConfig({ pingIntervalSec: PING_TIMEOUT_SEC + 1, reconnectIntervalSec: 0.2 });
    world.emu.dropLongConnections();
    await waitFor(() => bridge.feishu!.health().intake === "connected" && world.emu.wsClients() === 1, {
      what: "the long connection back with the short ping interval",
    });
    const reconnectsBefore = await metric(bridge, "feishu_reconnects_total");

    expect(world.emu.silenceLongConnections()).toBe(1);
    const silent = { marker: "silent", messageId: tellAiPc(world, talk, "silent 还在吗？").messageId };
    // Found dead within a ping interval plus the watchdog's timeout, then back at once.
    await eachToldOnce(world, [silent], (2 * PING_TIMEOUT_SEC + 10) * 1_000);
    expect(talk.redeliveries).toBeGreaterThan(0);

    expect(logged(sink.lines, /no pong\/inbound within \d+s of last ping/).length).toBeGreaterThanOrEqual(1);
    expect(logged(sink.lines, /^Feishu long connection lost; reconnecting/).length).toBeGreaterThanOrEqual(2);
    expect(await metric(bridge, "feishu_reconnects_total")).toBeGreaterThan(reconnectsBefore);
    expect(await metric(bridge, "feishu_intake_up")).toBe(1);
    expect(await metric(bridge, "intake_events_total", { verdict: "handled" })).toBe(1);
    expect(duplicatePosts(world.emu, world.emu.defaultChat)).toEqual([]);
    talk.stop();
  });
});
