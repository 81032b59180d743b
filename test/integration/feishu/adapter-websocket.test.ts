import { describe, expect, it } from "vitest";
import type { CardActionEvent } from "../../../src/feishu/index.js";
import { feishuAdapter, feishuEmulator } from "../../helpers/feishu.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

// The real SDK's WSClient against the emulator's long connection (pbbp2 frames).
describe("Feishu intake over the long connection", () => {
  it("delivers a person's @mention as one normalised message, and drops the bridge's own posts", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const { adapter, received } = await feishuAdapter(emu);
    await adapter.start({ onMessage: (m) => void received.push(m) });
    expect(adapter.bot).toMatchObject({ openId: emu.bridge.botOpenId, name: emu.bridge.botName });

    const said = emu.say(emu.defaultChat, wang, "/nodes", { mentions: ["bridge"] });
    expect(await said.delivered).toMatchObject({ via: "websocket", code: 200 });
    await waitFor(() => received.length === 1, { what: "the message" });
    expect(received[0]).toMatchObject({
      messageId: said.messageId,
      eventId: said.eventId,
      chatId: emu.defaultChat,
      text: `@${emu.bridge.botName} /nodes`,
      textWithoutBridgeMention: "/nodes",
      mentionsBridge: true,
      sender: { openId: wang.openIdFor(emu.bridge.appId), unionId: wang.unionId, type: "user" },
    });

    // What the bridge posts itself never comes back as an event.
    await adapter.outbound.send({ chatId: emu.defaultChat, content: { kind: "text", text: "hello" } });
    const after = emu.say(emu.defaultChat, wang, "second", { mentions: ["bridge"] });
    await after.delivered;
    await waitFor(() => received.length === 2);
    expect(received.map((m) => m.textWithoutBridgeMention)).toEqual(["/nodes", "second"]);
  });

  it("understands post (rich text) messages, images, and a node bot's message that @mentions the bridge", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const officeBot = emu.addBot({ name: "Office 助手" });
    emu.addMembers(emu.defaultChat, [officeBot]);
    const { adapter, received } = await feishuAdapter(emu, {
      nodeBots: [{ node: "office-mac", unionId: officeBot.unionId }],
    });
    await adapter.start({ onMessage: (m) => void received.push(m) });

    await emu.sayPost(emu.defaultChat, wang, {
      title: "今天的任务",
      paragraphs: [
        [
          { tag: "at", who: "bridge" },
          { tag: "text", text: " /run #gpu 训练模型" },
        ],
      ],
    }).delivered;
    await emu.sendImage(emu.defaultChat, wang).delivered;
    await emu.say(emu.defaultChat, officeBot, "帮我跑一下 benchmark", { mentions: ["bridge"] }).delivered;
    await waitFor(() => received.length === 3, { what: () => `3 messages, got ${received.length}` });

    const [post, image, fromBot] = received;
    expect(post!.messageType).toBe("post");
    expect(post!.textWithoutBridgeMention).toBe("今天的任务\n/run #gpu 训练模型");
    expect(image!.text).toMatch(
      /^\[image\] https:\/\/applink\.feishu\.cn\/client\/chat\/open\?openChatId=oc_/,
    );
    expect(image!.attachments[0]?.kind).toBe("image");
    expect(fromBot!.sender.type).toBe("bot");
    expect(adapter.bots.nodeForSender(fromBot!.sender)).toBe("office-mac");
  });

  it("handles Feishu's duplicate deliveries once: the same event id again, the same message under a new id", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const stateDir = tempDir();
    const first = await feishuAdapter(emu, { stateDir });
    await first.adapter.start({ onMessage: (m) => void first.received.push(m) });

    const said = emu.say(emu.defaultChat, wang, "只处理一次", { mentions: ["bridge"] });
    await said.delivered;
    await emu.redeliver(said.eventId).delivered;
    await emu.duplicateUnderNewId(said.eventId).delivered;
    const marker = emu.say(emu.defaultChat, wang, "marker", { mentions: ["bridge"] });
    await marker.delivered;
    await waitFor(() => first.received.some((m) => m.messageId === marker.messageId));
    expect(first.received.filter((m) => m.messageId === said.messageId)).toHaveLength(1);
    expect(first.adapter.health().intakeStats.duplicates).toBe(2);
    await first.adapter.stop();

    // After a restart the dedup log still knows the event.
    const second = await feishuAdapter(emu, { stateDir });
    await second.adapter.start({ onMessage: (m) => void second.received.push(m) });
    await emu.redeliver(said.eventId).delivered;
    const marker2 = emu.say(emu.defaultChat, wang, "marker 2", { mentions: ["bridge"] });
    await marker2.delivered;
    await waitFor(() => second.received.some((m) => m.messageId === marker2.messageId));
    expect(second.received.map((m) => m.messageId)).toEqual([marker2.messageId]);
  });

  it("answers a card button and a form submit within the budget, with a toast and a new card", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const actions: CardActionEvent[] = [];
    const { adapter } = await feishuAdapter(emu);
    await adapter.start({
      onMessage: () => {},
      onCardAction: (action) => {
        actions.push(action);
        return {
          toast: { type: "success", content: `cancelled ${String(action.action.value.taskId ?? "")}` },
          card: { config: { update_multi: true }, elements: [{ tag: "markdown", content: "**已取消**" }] },
        };
      },
    });
    const card = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: {
        kind: "card",
        card: { elements: [{ tag: "markdown", content: "任务 T7 运行中" }] },
        fallbackText: "任务 T7 运行中",
      },
    });
    expect(emu.message(card.messageId)?.updateMulti).toBe(true);

    const click = emu.clickCard(card.messageId, wang, { action: "cancel", taskId: "T7" });
    const result = await click.delivered;
    expect(result).toMatchObject({ via: "websocket", code: 200 });
    expect(emu.lastToast).toMatchObject({ type: "success", content: "cancelled T7" });
    expect(JSON.stringify(emu.message(card.messageId)?.content)).toContain("已取消");
    expect(actions[0]).toMatchObject({
      operator: { openId: wang.openIdFor(emu.bridge.appId), unionId: wang.unionId },
      action: { value: { action: "cancel", taskId: "T7" } },
      messageId: card.messageId,
      chatId: emu.defaultChat,
    });

    await emu.submitForm(card.messageId, wang, { node: "ai-pc", prompt: "画一只猫" }).delivered;
    await waitFor(() => actions.length === 2);
    expect(actions[1]!.action.formValue).toEqual({ node: "ai-pc", prompt: "画一只猫" });
  });

  it("reassembles a multi-part payload and keeps receiving after the connection drops", async () => {
    const emu = await feishuEmulator({ fragmentBytes: 256, reconnectIntervalSec: 1 });
    const wang = emu.addPerson({ name: "小王" });
    const { adapter, received } = await feishuAdapter(emu);
    await adapter.start({ onMessage: (m) => void received.push(m) });
    const long = "很长的消息".repeat(200);
    await emu.say(emu.defaultChat, wang, long, { mentions: ["bridge"] }).delivered;
    await waitFor(() => received.length === 1);
    expect(received[0]!.textWithoutBridgeMention).toBe(long);

    emu.dropLongConnections();
    // Said while no client is connected: the emulator holds it, as Feishu does, until one is back.
    const afterDrop = emu.say(emu.defaultChat, wang, "after the drop", { mentions: ["bridge"] });
    await waitFor(() => received.some((m) => m.messageId === afterDrop.messageId), {
      timeoutMs: 20_000,
      what: "the message sent while the connection was down",
    });
    expect(adapter.health().intake).toBe("connected");
  });

  it("ignores chats outside feishu.chats", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const other = emu.createChat({ name: "other", members: ["bridge", wang] });
    const { adapter, received } = await feishuAdapter(emu, { config: { chats: [emu.defaultChat] } });
    await adapter.start({ onMessage: (m) => void received.push(m) });
    await emu.say(other, wang, "not served", { mentions: ["bridge"] }).delivered;
    const served = emu.say(emu.defaultChat, wang, "served", { mentions: ["bridge"] });
    await served.delivered;
    await waitFor(() => received.length >= 1);
    expect(received.map((m) => m.chatId)).toEqual([emu.defaultChat]);
    expect(adapter.health().intakeStats.ignored).toBe(1);
  });
});
