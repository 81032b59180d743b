import { describe, expect, it } from "vitest";
import { BotDirectory } from "../../../src/feishu/bot-directory.js";

const directory = new BotDirectory([
  { node: "ai-pc", unionId: "on_aipc_made_up", name: "AI-PC 助手" },
  { node: "office-mac", name: "Office Mac" },
]);

describe("BotDirectory", () => {
  it("matches a node's bot by union_id or by configured name, never by open_id", () => {
    expect(
      directory.nodeForMention({
        key: "@_user_1",
        unionId: "on_aipc_made_up",
        name: "renamed",
        isBridge: false,
      }),
    ).toBe("ai-pc");
    expect(directory.nodeForMention({ key: "@_user_2", name: "ai-pc助手", isBridge: false })).toBe("ai-pc");
    expect(directory.nodeForMention({ key: "@_user_3", name: "office  mac", isBridge: false })).toBe(
      "office-mac",
    );
    expect(
      directory.nodeForMention({
        key: "@_user_4",
        openId: "ou_aipc_as_seen",
        name: "someone",
        isBridge: false,
      }),
    ).toBe(undefined);
    expect(directory.nodeForMention({ key: "@_user_5", name: "AI-PC 助手", isBridge: true })).toBe(undefined);
  });

  it("lists mentioned nodes once, in order; recognises a node's bot as sender by union_id", () => {
    const mentions = [
      { key: "@_user_1", name: "Office Mac", isBridge: false },
      { key: "@_user_2", unionId: "on_aipc_made_up", name: "x", isBridge: false },
      { key: "@_user_3", name: "Office Mac", isBridge: false },
    ];
    expect(directory.mentionedNodes({ mentions })).toEqual(["office-mac", "ai-pc"]);
    expect(directory.nodeForSender({ openId: "ou_x", unionId: "on_aipc_made_up", type: "bot" })).toBe(
      "ai-pc",
    );
    expect(directory.nodeForSender({ openId: "ou_x", unionId: "on_aipc_made_up", type: "user" })).toBe(
      undefined,
    );
  });
});
