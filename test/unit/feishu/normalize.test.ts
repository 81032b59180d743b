import { describe, expect, it } from "vitest";
import {
  normalizeCardAction,
  normalizeMessageEvent,
  UnreadableEvent,
} from "../../../src/feishu/normalize.js";
import {
  BRIDGE_OPEN_ID,
  NODE_BOT,
  PERSON,
  cardActionEvent,
  textEvent,
} from "../../fixtures/feishu/events.js";

const ctx = {
  bridgeOpenId: BRIDGE_OPEN_ID,
  messageLink: (chat: string, message: string) =>
    `https://applink.feishu.cn/client/chat/open?openChatId=${chat}#${message}`,
};

describe("normalizeMessageEvent", () => {
  it("maps @_user_N keys to names and strips the bridge mention for commands", () => {
    const m = normalizeMessageEvent(
      textEvent({
        text: "@_user_1 /tell @_user_2 跑一下 benchmark",
        mentions: [
          { key: "@_user_1", id: { open_id: BRIDGE_OPEN_ID }, name: "clawbridge" },
          { key: "@_user_2", id: NODE_BOT, name: "AI-PC 助手" },
        ],
      }),
      ctx,
    );
    expect(m.text).toBe("@clawbridge /tell @AI-PC 助手 跑一下 benchmark");
    expect(m.textWithoutBridgeMention).toBe("/tell @AI-PC 助手 跑一下 benchmark");
    expect(m.mentionsBridge).toBe(true);
    expect(m.mentions.map((x) => [x.name, x.isBridge])).toEqual([
      ["clawbridge", true],
      ["AI-PC 助手", false],
    ]);
    expect(m.sender).toEqual({
      openId: PERSON.open_id,
      unionId: PERSON.union_id,
      userId: PERSON.user_id,
      type: "user",
    });
    expect(m.chatId).toBe("oc_5ad11d72b830411d72b836c20");
    expect(m.createdAt).toBe(1764086400000);
  });

  it("renders post (rich text) messages with title, at, links, images and code", () => {
    const content = {
      title: "周报",
      content: [
        [
          { tag: "at", user_id: "@_user_1", user_name: "clawbridge" },
          { tag: "text", text: " /run #gpu 训练 " },
          { tag: "a", text: "数据", href: "https://example.com/d" },
        ],
        [{ tag: "img", image_key: "img_v3_02ab_made-up" }],
        [{ tag: "code_block", language: "sh", text: "nvidia-smi" }],
      ],
    };
    const m = normalizeMessageEvent(
      textEvent({ messageType: "post", content: JSON.stringify(content) }),
      ctx,
    );
    expect(m.textWithoutBridgeMention.split("\n")[0]).toBe("周报");
    expect(m.textWithoutBridgeMention).toContain("/run #gpu 训练 数据 (https://example.com/d)");
    expect(m.text).toContain("@clawbridge /run");
    expect(m.text).toContain("```sh\nnvidia-smi\n```");
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ kind: "image", key: "img_v3_02ab_made-up" });
    expect(m.text).toContain("[image] https://applink.feishu.cn/client/chat/open?openChatId=oc_");
  });

  it("reads a post wrapped in a locale key (older payloads)", () => {
    const content = { zh_cn: { title: "", content: [[{ tag: "text", text: "你好" }]] } };
    const m = normalizeMessageEvent(
      textEvent({ messageType: "post", content: JSON.stringify(content), mentions: [] }),
      ctx,
    );
    expect(m.text).toBe("你好");
    expect(m.mentionsBridge).toBe(false);
  });

  it("turns images and files into a placeholder with a link", () => {
    const image = normalizeMessageEvent(
      textEvent({
        messageType: "image",
        content: JSON.stringify({ image_key: "img_v3_made_up" }),
        mentions: [],
      }),
      ctx,
    );
    expect(image.text).toMatch(/^\[image\] https:\/\/applink/);
    const file = normalizeMessageEvent(
      textEvent({
        messageType: "file",
        content: JSON.stringify({ file_key: "file_v3_made_up", file_name: "日志.txt" }),
        mentions: [],
      }),
      ctx,
    );
    expect(file.text).toMatch(/^\[file: 日志\.txt\]/);
    expect(file.attachments[0]).toMatchObject({ kind: "file", name: "日志.txt", key: "file_v3_made_up" });
  });

  it("marks a bot-authored message", () => {
    for (const senderType of ["bot", "app"]) {
      const m = normalizeMessageEvent(textEvent({ sender: NODE_BOT, senderType }), ctx);
      expect(m.sender.type).toBe("bot");
      expect(m.sender.unionId).toBe(NODE_BOT.union_id);
    }
  });

  it("keeps threading ids", () => {
    const m = normalizeMessageEvent(
      textEvent({ rootId: "om_root_made_up", parentId: "om_parent_made_up" }),
      ctx,
    );
    expect(m.rootId).toBe("om_root_made_up");
    expect(m.parentId).toBe("om_parent_made_up");
  });

  it("refuses a payload without the fields it needs, naming them", () => {
    const broken = textEvent();
    delete (broken.message as Record<string, unknown>).chat_id;
    expect(() => normalizeMessageEvent(broken, ctx)).toThrow(UnreadableEvent);
    expect(() => normalizeMessageEvent(broken, ctx)).toThrow(/chat_id/);
  });

  it("survives content that is not JSON", () => {
    const m = normalizeMessageEvent(textEvent({ content: "not json", mentions: [] }), ctx);
    expect(m.text).toBe("");
  });
});

describe("normalizeCardAction", () => {
  it("reads operator, value, form and context", () => {
    const a = normalizeCardAction(cardActionEvent({ formValue: { node: "ai-pc", prompt: "画一只猫" } }));
    expect(a.operator.openId).toBe(PERSON.open_id);
    expect(a.action.value).toEqual({ action: "cancel", taskId: "T7" });
    expect(a.action.formValue).toEqual({ node: "ai-pc", prompt: "画一只猫" });
    expect(a.messageId).toBe("om_3b6f1a9c2e4d8b0f7a5c3e1d9b7f5a3c");
    expect(a.chatId).toBe("oc_5ad11d72b830411d72b836c20");
    expect(a.token).toMatch(/^c-/);
  });

  it("parses a value that older cards send as a JSON string", () => {
    const a = normalizeCardAction(cardActionEvent({ value: JSON.stringify({ action: "retry" }) }));
    expect(a.action.value).toEqual({ action: "retry" });
  });
});
