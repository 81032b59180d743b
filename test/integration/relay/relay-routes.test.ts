import { readFileSync, appendFileSync, existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";

function inbox(world: BridgeWorld, node: string): Record<string, unknown>[] {
  const file = path.join(world.root, "messages", `to-${node}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function seedLine(from: string, to: string, content: string): string {
  return `${JSON.stringify({ from, to, timestamp: "2026-11-25T18:40:00+08:00", type: "message", content })}\n`;
}

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

describe("relay routes, end to end (Feishu emulator, fake gateways, shared folder)", () => {
  it("mailbox → node: delivered to the gateway once, answered into the sender's inbox and session, audited", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      seedLine("office-mac", "ai-pc", "帮我跑一下 benchmark 并把结果告诉我"),
    );
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "ai-pc's agent request" });
    expect(run.sessionKey).toBe("agent:main:clawbridge:from-office-mac");
    expect(run.message).toContain("帮我跑一下 benchmark");
    // The answer reaches office-mac's gateway session, and the folder holds the full record.
    const back = await waitFor(() => agentRuns(world, "office-mac")[0], {
      what: "the answer in office-mac's session",
    });
    expect(back.message).toContain("benchmark 跑完了");
    await waitFor(() => inbox(world, "office-mac").some((e) => e.replyTo && e.delivered === "gateway"), {
      what: "the answer mirrored into to-office-mac.jsonl",
    });
    const answer = inbox(world, "office-mac").find((e) => e.replyTo)!;
    expect(answer).toMatchObject({ from: "ai-pc", to: "office-mac", source: "clawbridge", hop: 2 });
    await waitFor(
      () => world.emu.messages(world.auditChat).some((m) => m.text?.startsWith("[office-mac → ai-pc]")),
      {
        what: "the audit line",
      },
    );
    await waitFor(
      () => world.emu.messages(world.auditChat).some((m) => m.text?.startsWith("[ai-pc → office-mac]")),
      {
        what: "the audited answer",
      },
    );
    // The seed line is delivered once; the mirror lines are never routed again.
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
    const status = JSON.parse(readFileSync(path.join(world.root, "status", "clawbridge.json"), "utf8")) as {
      nodes: { name: string }[];
    };
    expect(status.nodes.map((n) => n.name)).toEqual(["ai-pc", "office-mac", "nas-agent"]);
  });

  it("person → node with /tell: the answer is posted in the thread as [node]; a non-dispatcher is told why", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    const said = world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 今天 GPU 利用率怎么样？", {
      mentions: ["bridge"],
    });
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "ai-pc's agent request" });
    expect(run.sessionKey).toBe(`agent:main:clawbridge:${world.emu.defaultChat}`);
    expect(run.message).toContain("今天 GPU 利用率怎么样？");
    const posted = await waitFor(
      () => world.emu.messages(world.emu.defaultChat).find((m) => m.text?.startsWith("[ai-pc]")),
      { what: "the [ai-pc] answer" },
    );
    expect(posted.parentId ?? posted.rootId).toBe(said.messageId);

    world.emu.say(world.emu.defaultChat, world.li, "/tell ai-pc 你好", { mentions: ["bridge"] });
    const refusal = await waitFor(
      () => world.emu.messages(world.emu.defaultChat).find((m) => m.text?.includes("access.dispatchers")),
      { what: "the refusal" },
    );
    expect(refusal.text).toContain(world.li.openIdFor(world.emu.bridge.appId));
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
  });

  it("node ↔ node in the group: office-mac's @ of ai-pc's bot reaches ai-pc, whose answer is posted as [ai-pc]", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    await waitFor(() => world.gateways["office-mac"].connections() > 0);
    world.gateways["office-mac"].sayInGroup({
      chatId: world.emu.defaultChat,
      text: '<at user_id="ou_foreign_open_id">AI-PC 助手</at> 帮我跑一下 benchmark',
    });
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "ai-pc's agent request" });
    expect(run.message).toContain("帮我跑一下 benchmark");
    expect(run.sessionKey).toBe(`agent:main:clawbridge:${world.emu.defaultChat}`);
    await waitFor(
      () => world.emu.messages(world.emu.defaultChat).some((m) => m.text?.startsWith("[ai-pc]")),
      {
        what: "the [ai-pc] answer in the group",
      },
    );
  });

  it("a node whose OpenClaw already hears bots is not served twice", async () => {
    const world = await bridgeWorld({ hearsBots: true });
    await startWorldBridge(world);
    await waitFor(() => world.gateways["office-mac"].connections() > 0);
    world.gateways["office-mac"].sayInGroup({
      chatId: world.emu.defaultChat,
      text: "@AI-PC 助手 帮我跑一下",
    });
    // A later mailbox line to ai-pc proves the bridge is running and routing.
    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      seedLine("nas-agent", "ai-pc", "marker"),
    );
    await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.message.includes("marker")));
    expect(agentRuns(world, "ai-pc").filter((r) => r.message.includes("帮我跑一下"))).toEqual([]);
  });

  it("an offline node's envelopes wait in the outbox and are delivered when it is back", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    await waitFor(() => world.gateways["ai-pc"].connections() > 0);
    world.gateways["ai-pc"].stall(true);
    world.gateways["ai-pc"].dropConnections();
    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      seedLine("office-mac", "ai-pc", "离线时发的"),
    );
    await waitFor(() => (bridge.relay.stats()["ai-pc"]?.pending ?? 0) === 1, {
      what: "the envelope in the outbox",
    });
    world.gateways["ai-pc"].stall(false);
    await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.message.includes("离线时发的")), {
      timeoutMs: 20_000,
      what: "delivery after the node came back",
    });
    await waitFor(() => (bridge.relay.stats()["ai-pc"]?.pending ?? 0) === 0);
  });

  it("/tell to a node that cannot be reached: the asker is told it waits, and it goes out once the node is back", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    await waitFor(() => world.gateways["ai-pc"].connections() > 0);
    world.gateways["ai-pc"].stall(true);
    world.gateways["ai-pc"].dropConnections();
    await waitFor(() => world.gateways["ai-pc"].connections() === 0);
    const said = world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 等你回来再看", {
      mentions: ["bridge"],
    });
    const notice = await waitFor(
      () =>
        world.emu
          .messages(world.emu.defaultChat)
          .find((m) => m.text?.includes("cannot be reached right now")),
      { what: "the reply that the message waits" },
    );
    expect(notice.text).toContain("ai-pc");
    expect(notice.parentId ?? notice.rootId).toBe(said.messageId);
    world.gateways["ai-pc"].stall(false);
    await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.message.includes("等你回来再看")), {
      timeoutMs: 20_000,
      what: "delivery after the node came back",
    });
    expect(agentRuns(world, "ai-pc").filter((r) => r.message.includes("等你回来再看"))).toHaveLength(1);
  });

  it("a Feishu duplicate delivery is relayed once", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    const said = world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 只一次", {
      mentions: ["bridge"],
    });
    await said.delivered;
    await world.emu.redeliver(said.eventId).delivered;
    await world.emu.duplicateUnderNewId(said.eventId).delivered;
    await waitFor(() => agentRuns(world, "ai-pc").length >= 1);
    await waitFor(() => world.emu.messages(world.emu.defaultChat).some((m) => m.text?.startsWith("[ai-pc]")));
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
  });
});
