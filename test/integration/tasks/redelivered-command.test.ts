import { describe, expect, it } from "vitest";
import type { InboundChatMessage } from "../../../src/feishu/index.js";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import { agentRuns, command, nodesOnline, openId } from "./lifecycle-kit.js";

// Among replicas the task layer moves to another replica when its holder dies, and the
// successor handles again what its predecessor had taken and not finished. A `/run` handled
// twice must stay one task (and one run on the node).

describe("a command handled twice", () => {
  it("/run with the same message id is one task, one run", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    // A real command first, so the chat has a message the answer can reply to.
    const said = command(world, world.wang, "/run office-mac 看一下日志");
    await waitFor(() => agentRuns(world, "office-mac")[0], { what: "the first run" });
    const message: InboundChatMessage = {
      eventId: "ev-redelivered-1",
      messageId: said.messageId,
      chatId: world.emu.defaultChat,
      chatType: "group",
      sender: { openId: openId(world, world.wang), type: "user" },
      messageType: "text",
      text: "@clawbridge /run office-mac 看一下日志",
      textWithoutBridgeMention: "/run office-mac 看一下日志",
      mentions: [],
      mentionsBridge: true,
      attachments: [],
      createdAt: Date.now(),
    };
    await bridge.tasks.handleMessage(message);
    await bridge.tasks.handleMessage(message);
    await waitFor(() => bridge.tasks.service.get("T1")?.state === "done" || undefined, { what: "T1 done" });
    expect(bridge.tasks.service.list().map((t) => t.id)).toEqual(["T1"]);
    expect(agentRuns(world, "office-mac")).toHaveLength(1);
  });
});
