import { appendFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunningBridge } from "../../src/app.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { WarpClock } from "../helpers/warp-clock.js";
import { cardText, cardTitle } from "../helpers/card-reading.js";
import { answersTo } from "../integration/tasks/commands-kit.js";
import { countBy, GroupTalk, inboxIds, notices, seedLine } from "./support/fault-kit.js";

// A pairing request that expires while messages wait for the node (issue 14): the bridge keeps
// asking, gets a new request, says so on the one pairing card, keeps every message in the
// node's outbox (none dead-lettered, none lost) and delivers each exactly once after approval.

/** The gateway client asks again this often while pairing is pending (its default). */
const PAIRING_RETRY_MS = 15_000;
/** The fake's pending requests expire after this long without a retry. */
const PAIRING_TTL_MS = 1_000;
const HEALTH = { intervalMs: 100, graceMs: 1_000 };

async function metric(bridge: RunningBridge, name: string, labels?: Record<string, string>): Promise<number> {
  return (await bridge.metrics.value(name, labels)) ?? 0;
}

const agentRuns = (world: BridgeWorld) => world.gateways["ai-pc"].runs().filter((r) => r.origin === "agent");
const pairingCards = (world: BridgeWorld) =>
  world.emu.messages(world.auditChat).filter((m) => m.msgType === "interactive" && m.senderAppId);

describe("a pairing request that expires while messages wait", () => {
  it("a new request on the same card, every waiting message kept and delivered once after approval; counted and logged", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { requirePairing: true, pairingTtlMs: PAIRING_TTL_MS } },
    });
    const clock = new WarpClock();
    const gateway = world.gateways["ai-pc"];
    // The client closes a refused connection after it has set its timer for the next try.
    let refused = 0;
    gateway.on("disconnect", () => refused++);
    const { bridge, sink } = await startWorldBridge(world, { clock, health: HEALTH });
    const talk = new GroupTalk(world.emu);
    const nextTry = async (what: string) => {
      const before = refused;
      clock.warp(PAIRING_RETRY_MS);
      await waitFor(() => refused > before || gateway.clients().some((c) => c.authenticated), { what });
    };

    const first = await waitFor(() => gateway.pendingPairings()[0], { what: "a pairing request at ai-pc" });
    const card = await waitFor(() => pairingCards(world)[0], { what: "the pairing card" });
    expect(cardTitle(card)).toBe("ai-pc needs pairing");
    expect(cardText(card.content)).toContain(`openclaw devices approve ${first.requestId}`);
    await waitFor(async () => (await metric(bridge, "pairing_pending", { node: "ai-pc" })) === 1, {
      what: "pairing_pending 1",
    });

    // Messages for ai-pc arrive meanwhile, from its inbox and from the group.
    const { line, id } = seedLine("office-mac", "ai-pc", "pairing-甲 帮我跑一下 benchmark");
    appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), line);
    const told = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc pairing-乙 GPU 忙吗？");
    await waitFor(async () => (await metric(bridge, "outbox_depth", { outbox: "ai-pc" })) === 2, {
      what: "both messages waiting in ai-pc's outbox",
    });

    // Nobody approves in time: the request expires, and the next try gets a new one.
    await waitFor(() => refused > 0, { what: "the first refusal" });
    await sleep(PAIRING_TTL_MS + 200);
    expect(gateway.pendingPairings()).toEqual([]);
    expect(gateway.approve(first.requestId), "an expired request cannot be approved").toBe(false);
    await nextTry("the try after the request expired");
    const second = await waitFor(() => gateway.pendingPairings()[0], { what: "a new pairing request" });
    expect(second.requestId).not.toBe(first.requestId);
    const current = () => world.emu.message(card.messageId)!;
    await waitFor(() => cardText(current().content).includes(second.requestId), {
      what: "the card patched with the new request id",
    });
    expect(cardText(current().content)).not.toContain(first.requestId);
    expect(pairingCards(world).map((m) => m.messageId)).toEqual([card.messageId]);
    // Logged once per request, with the command that approves it.
    const asked = sink
      .records()
      .filter((r) => r.component === "gateway" && r.node === "ai-pc" && typeof r.requestId === "string");
    expect(asked.map((r) => r.requestId)).toEqual([first.requestId, second.requestId]);
    expect(
      asked.every(
        (r) =>
          r.level === 40 && String(r.command).includes(`openclaw devices approve ${r.requestId as string}`),
      ),
    ).toBe(true);

    // Everything still waits: nothing was given up on, nothing ran.
    expect(await metric(bridge, "outbox_depth", { outbox: "ai-pc" })).toBe(2);
    expect(bridge.relay.deadLetterList()).toEqual([]);
    expect(agentRuns(world)).toEqual([]);
    expect(await metric(bridge, "pairing_pending", { node: "ai-pc" })).toBe(1);
    // Waiting for a person to approve is not an outage: the card says what to do, no ⚠ notice.
    expect(notices(world.emu, world.auditChat, "⚠")).toEqual([]);

    // Approved: the next try connects, the card says so, and each message goes out once.
    expect(gateway.approve(second.requestId)).toBe(true);
    await nextTry("the try after approval");
    await waitFor(() => cardTitle(current()) === "ai-pc is connected", {
      what: "the card turning connected",
    });
    await waitFor(() => inboxIds(world.root, "office-mac").ids.includes(`re-${id}`), {
      what: "the answer to the mailbox line",
    });
    await waitFor(() => answersTo(world, told.messageId).some((m) => m.text?.startsWith("[ai-pc]")), {
      what: "the [ai-pc] answer in the group",
    });
    expect(agentRuns(world).filter((r) => r.idempotencyKey.startsWith(id))).toHaveLength(1);
    expect(agentRuns(world).filter((r) => r.message.includes("pairing-乙"))).toHaveLength(1);
    expect(agentRuns(world)).toHaveLength(2);
    expect(countBy(inboxIds(world.root, "office-mac").ids).get(`re-${id}`)).toBe(1);
    expect(answersTo(world, told.messageId).filter((m) => m.text?.startsWith("[ai-pc]"))).toHaveLength(1);
    expect(pairingCards(world).map((m) => m.messageId)).toEqual([card.messageId]);

    expect(await metric(bridge, "pairing_pending", { node: "ai-pc" })).toBe(0);
    expect(await metric(bridge, "pairing_wait_seconds", { node: "ai-pc" })).toBe(1);
    // From the first request, not the second: the wait a person saw.
    expect(await metric(bridge, "pairing_wait_seconds_sum", { node: "ai-pc" })).toBeGreaterThanOrEqual(
      (2 * PAIRING_RETRY_MS) / 1000,
    );
    expect(await metric(bridge, "outbox_depth", { outbox: "ai-pc" })).toBe(0);
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "delivered" }),
    ).toBe(2);
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);
    talk.stop();
  });
});
