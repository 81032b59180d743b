import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { sleep, waitFor } from "../../helpers/wait.js";
import { agentRuns, nodesOnline } from "./lifecycle-kit.js";

// Node ↔ node in the group (ARCHITECTURE.md "Routes" 1, SCENARIOS.md §2): office-mac's agent
// addresses ai-pc in its Feishu group session; ai-pc's bot never hears it from Feishu, so the
// bridge forwards it, shows the compact audit line, and threads ai-pc's answer under it.

const byBridge = (text: string | undefined, prefix: string) => text?.startsWith(prefix) ?? false;

describe("node ↔ node in the group", () => {
  it("the audit line [office-mac → ai-pc] first, ai-pc's answer [ai-pc] threaded under it", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    const chat = world.emu.defaultChat;

    world.gateways["office-mac"].sayInGroup({
      chatId: chat,
      text: '<at user_id="ou_office_app_sees_this">AI-PC 助手</at> 帮我跑一下 benchmark',
    });
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "ai-pc's run" });
    expect(run.sessionKey).toBe(`agent:main:clawbridge:${chat}`);
    expect(run.message).toContain("帮我跑一下 benchmark");

    const answer = await waitFor(() => world.emu.messages(chat).find((m) => byBridge(m.text, "[ai-pc] ")), {
      what: "ai-pc's answer in the group",
    });
    const audit = world.emu.messages(chat).find((m) => byBridge(m.text, "[office-mac → ai-pc] "));
    expect(audit, "the audit line").toBeDefined();
    // The audit line quotes what office-mac said, as text that mentions nobody.
    expect(audit!.text).toBe("[office-mac → ai-pc] @AI-PC 助手 帮我跑一下 benchmark");
    expect(audit!.mentions).toEqual([]);
    expect(audit!.senderAppId).toBe(world.emu.bridge.appId);
    expect(answer.text).toBe("[ai-pc] benchmark 跑完了：42 it/s");
    expect(answer.parentId).toBe(audit!.messageId);
    expect(answer.rootId).toBe(audit!.messageId);
    expect(audit!.createdAt).toBeLessThanOrEqual(answer.createdAt);

    // The answer also goes back to office-mac, in its session for ai-pc's traffic.
    const back = await waitFor(() => agentRuns(world, "office-mac")[0], {
      what: "the answer in office-mac's session",
    });
    expect(back.sessionKey).toBe("agent:main:clawbridge:from-ai-pc");
    expect(world.emu.messages(chat).filter((m) => byBridge(m.text, "[office-mac → ai-pc] "))).toHaveLength(1);
  });

  it("relay.mirrorToChat off: ai-pc is still asked, the group gets no audit line", async () => {
    const world = await bridgeWorld({ relay: { mirrorToChat: false } });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    world.gateways["office-mac"].sayInGroup({
      chatId: world.emu.defaultChat,
      text: "@AI电脑 帮我跑一下 benchmark",
    });
    await waitFor(() => agentRuns(world, "office-mac")[0], {
      what: "the answer back in office-mac's session",
    });
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
    expect(world.emu.messages(world.emu.defaultChat).filter((m) => m.senderAppId)).toEqual([]);
  });

  it("a chat the bridge does not serve (not in feishu.chats) is not relayed", async () => {
    const world = await bridgeWorld();
    const other = world.emu.createChat({
      name: "not served",
      members: ["bridge", world.officeBot, world.wang],
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);

    world.gateways["office-mac"].sayInGroup({ chatId: other, text: "@AI-PC 助手 别的群里的请求" });
    // Then one in the served group: once that is answered, the first has had its chance.
    await sleep(100);
    world.gateways["office-mac"].sayInGroup({
      chatId: world.emu.defaultChat,
      text: "@AI-PC 助手 本群的请求",
    });
    await waitFor(() => world.emu.messages(world.emu.defaultChat).find((m) => byBridge(m.text, "[ai-pc] ")), {
      what: "the served group's answer",
    });
    expect(agentRuns(world, "ai-pc").map((r) => r.message.split("\n").at(-1))).toEqual([
      "@AI-PC 助手 本群的请求",
    ]);
    expect(world.emu.messages(other).filter((m) => m.senderAppId)).toEqual([]);
  });
});
