import { describe, expect, it } from "vitest";
import { feishuErrors, MemoryFeishuApi } from "../../helpers/memory-feishu-api.js";

// The fake is the judge in the outbound tests; these check that it judges like Feishu.
describe("MemoryFeishuApi", () => {
  const text = (t: string) => JSON.stringify({ text: t });

  it("posts at most one message per uuid", async () => {
    const api = new MemoryFeishuApi();
    const a = await api.sendMessage({ chatId: "oc_1", msgType: "text", content: text("a"), uuid: "u1" });
    const b = await api.sendMessage({ chatId: "oc_1", msgType: "text", content: text("a"), uuid: "u1" });
    expect(b.messageId).toBe(a.messageId);
    expect(api.messages()).toHaveLength(1);
    expect(api.calls[1]).toMatchObject({ deduplicated: true, outcome: "ok" });
  });

  it("refuses the sixth send to a chat within a second with a chat-scoped rate limit", async () => {
    let now = 1_000_000;
    const api = new MemoryFeishuApi({ now: () => now });
    for (let i = 0; i < 5; i++) {
      await api.sendMessage({ chatId: "oc_1", msgType: "text", content: text(`${i}`), uuid: `u${i}` });
    }
    await expect(
      api.sendMessage({ chatId: "oc_1", msgType: "text", content: text("6"), uuid: "u6" }),
    ).rejects.toMatchObject({
      code: "CB_FEISHU_RATE_LIMITED",
      details: { scope: "chat", feishuCode: 230020 },
    });
    await api.sendMessage({ chatId: "oc_2", msgType: "text", content: text("other"), uuid: "u7" });
    now += 1000;
    await api.sendMessage({ chatId: "oc_1", msgType: "text", content: text("6"), uuid: "u6" });
    expect(api.texts("oc_1")).toHaveLength(6);
  });

  it("limits the app as a whole with 99991400 and a whole-second retryAfterMs", async () => {
    const api = new MemoryFeishuApi({ appQps: 2, now: () => 5_000 });
    await api.sendMessage({ chatId: "a", msgType: "text", content: text("1"), uuid: "1" });
    await api.sendMessage({ chatId: "b", msgType: "text", content: text("2"), uuid: "2" });
    await expect(
      api.sendMessage({ chatId: "c", msgType: "text", content: text("3"), uuid: "3" }),
    ).rejects.toMatchObject({ retryAfterMs: 1000, details: { scope: "app", feishuCode: 99991400 } });
  });

  it("fails the next calls as told, before or after committing", async () => {
    const api = new MemoryFeishuApi();
    api.failNext(1, feishuErrors.server(), { afterCommit: true });
    await expect(
      api.sendMessage({ chatId: "oc", msgType: "text", content: text("x"), uuid: "u" }),
    ).rejects.toMatchObject({ code: "CB_FEISHU_SERVER" });
    expect(api.messages()).toHaveLength(1);
    api.failNext(1, feishuErrors.network());
    await expect(
      api.sendMessage({ chatId: "oc", msgType: "text", content: text("y"), uuid: "v" }),
    ).rejects.toMatchObject({ code: "CB_FEISHU_NETWORK" });
    expect(api.messages()).toHaveLength(1);
  });

  it("patches only shared cards, and stores what each patch applied", async () => {
    const api = new MemoryFeishuApi();
    const shared = await api.sendMessage({
      chatId: "oc",
      msgType: "interactive",
      content: JSON.stringify({ config: { update_multi: true }, elements: [] }),
      uuid: "c1",
    });
    const private_ = await api.sendMessage({
      chatId: "oc",
      msgType: "interactive",
      content: JSON.stringify({ elements: [] }),
      uuid: "c2",
    });
    const next = JSON.stringify({ config: { update_multi: true }, elements: [{ tag: "hr" }] });
    await api.patchMessage({ messageId: shared.messageId, content: next });
    expect(api.message(shared.messageId)).toMatchObject({ content: next, patches: [next] });
    await expect(api.patchMessage({ messageId: private_.messageId, content: next })).rejects.toMatchObject({
      details: { feishuCode: 230031 },
    });
  });
});
