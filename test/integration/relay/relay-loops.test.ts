import { appendFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";

const line = (fields: Record<string, unknown>) =>
  `${JSON.stringify({ timestamp: "2026-11-25T18:40:00+08:00", type: "message", ...fields })}\n`;
const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");
const auditTexts = (world: BridgeWorld) => world.emu.messages(world.auditChat).map((m) => m.text ?? "");

describe("relay loop prevention", () => {
  it("stops a chain at relay.maxHops and says so once", async () => {
    const world = await bridgeWorld({ relay: { maxHops: 4 } });
    await startWorldBridge(world);
    const inbox = path.join(world.root, "messages", "to-ai-pc.jsonl");
    appendFileSync(
      inbox,
      line({ from: "office-mac", to: "ai-pc", content: "hop 4 已经很多了", hop: 4, conversation: "c1" }),
    );
    appendFileSync(
      inbox,
      line({ from: "office-mac", to: "ai-pc", content: "还是 hop 4", hop: 4, conversation: "c1" }),
    );
    appendFileSync(
      inbox,
      line({ from: "office-mac", to: "ai-pc", content: "hop 1 可以", hop: 1, conversation: "c2" }),
    );
    await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.message.includes("hop 1 可以")), {
      what: "the envelope within the limit",
    });
    await waitFor(() => auditTexts(world).some((t) => t.includes("more than 4 hops")), {
      what: "the stop notice",
    });
    expect(agentRuns(world, "ai-pc").filter((r) => r.message.includes("hop 4"))).toEqual([]);
    expect(auditTexts(world).filter((t) => t.includes("more than 4 hops"))).toHaveLength(1);
  });

  it("a mailbox agent that answers without `hop` but with `replyTo` continues the count and is stopped at maxHops", async () => {
    const world = await bridgeWorld({ relay: { maxHops: 4 } });
    await startWorldBridge(world);
    const toAiPc = path.join(world.root, "messages", "to-ai-pc.jsonl");
    const toNas = path.join(world.root, "messages", "to-nas-agent.jsonl");
    const answers = () =>
      existsSync(toNas)
        ? readFileSync(toNas, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { id: string; hop?: number; replyTo?: string })
        : [];
    // nas-agent (mailbox-only) and ai-pc talk back and forth; nas-agent never writes `hop`.
    appendFileSync(toAiPc, line({ id: "nas-q1", from: "nas-agent", to: "ai-pc", content: "第 1 轮" }));
    for (let round = 2; round <= 3; round++) {
      const answer = await waitFor(() => answers()[round - 2], { what: `ai-pc's answer ${round - 1}` });
      expect(answer.hop).toBe(2 * (round - 1));
      appendFileSync(
        toAiPc,
        line({
          id: `nas-q${round}`,
          from: "nas-agent",
          to: "ai-pc",
          replyTo: answer.id,
          content: `第 ${round} 轮`,
        }),
      );
    }
    // The third question would be hop 5: refused and announced, never run.
    await waitFor(() => auditTexts(world).some((t) => t.includes("more than 4 hops")), {
      what: "the stop notice",
    });
    expect(agentRuns(world, "ai-pc").map((r) => r.message.match(/第 \d 轮/)?.[0])).toEqual([
      "第 1 轮",
      "第 2 轮",
    ]);
  });

  it("pauses a pair over its per-minute budget, announcing the pause once", async () => {
    const world = await bridgeWorld({ relay: { budget: { perPairPerMinute: 3, cooldownSeconds: 60 } } });
    await startWorldBridge(world);
    const inbox = path.join(world.root, "messages", "to-ai-pc.jsonl");
    for (let i = 1; i <= 6; i++)
      appendFileSync(inbox, line({ from: "nas-agent", to: "ai-pc", content: `第 ${i} 条` }));
    await waitFor(() => auditTexts(world).some((t) => t.includes("Paused")), { what: "the pause notice" });
    await waitFor(() => agentRuns(world, "ai-pc").length >= 3);
    expect(agentRuns(world, "ai-pc").map((r) => r.message.match(/第 \d 条/)?.[0])).toEqual([
      "第 1 条",
      "第 2 条",
      "第 3 条",
    ]);
    expect(auditTexts(world).filter((t) => t.includes("Paused"))).toHaveLength(1);
  });

  it("a seed agent still polling a gateway node's inbox can tell the lines clawbridge already delivered", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 看一下日志", { mentions: ["bridge"] });
    const file = path.join(world.root, "messages", "to-ai-pc.jsonl");
    const lines = await waitFor(
      () => {
        if (!existsSync(file)) return undefined;
        const parsed = readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        return parsed.length > 0 ? parsed : undefined;
      },
      { what: "the mirror line in to-ai-pc.jsonl" },
    );
    // What the seed's polling agent does: skip what clawbridge already handed to the gateway.
    const toHandle = lines.filter((envelope) => envelope.delivered !== "gateway");
    expect(lines[0]).toMatchObject({
      to: "ai-pc",
      content: "看一下日志",
      source: "clawbridge",
      delivered: "gateway",
    });
    expect(toHandle).toEqual([]);
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
  });

  it("a full outbox makes inbox lines wait in the inbox, and none is lost", async () => {
    const world = await bridgeWorld({ relay: { outboxPerNode: 2 } });
    const { bridge } = await startWorldBridge(world);
    await waitFor(() => world.gateways["ai-pc"].connections() > 0);
    world.gateways["ai-pc"].stall(true);
    world.gateways["ai-pc"].dropConnections();
    const inbox = path.join(world.root, "messages", "to-ai-pc.jsonl");
    // In one write: the five lines are read as one chunk, whose puts overflow part-way.
    let lines = "";
    for (let i = 1; i <= 5; i++) lines += line({ from: "nas-agent", to: "ai-pc", content: `排队 ${i}` });
    appendFileSync(inbox, lines);
    await waitFor(() => (bridge.relay.stats()["ai-pc"]?.pending ?? 0) === 2, { what: "a full outbox" });
    world.gateways["ai-pc"].stall(false);
    await waitFor(() => agentRuns(world, "ai-pc").filter((r) => r.message.includes("排队")).length === 5, {
      timeoutMs: 30_000,
      what: () => `all five delivered, got ${agentRuns(world, "ai-pc").length}`,
    });
    expect(agentRuns(world, "ai-pc").map((r) => r.message.match(/排队 \d/)?.[0])).toEqual([
      "排队 1",
      "排队 2",
      "排队 3",
      "排队 4",
      "排队 5",
    ]);
    // Each line's audit copy went into the chat outbox with the first try: posted once each.
    const audits = () => world.emu.messages(world.auditChat).map((m) => m.text?.match(/排队 \d/)?.[0]);
    await waitFor(() => audits().filter(Boolean).length >= 5, { what: "five audit copies" });
    expect(audits().filter(Boolean).sort()).toEqual(["排队 1", "排队 2", "排队 3", "排队 4", "排队 5"]);
  });
});
