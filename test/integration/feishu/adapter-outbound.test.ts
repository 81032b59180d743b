import { describe, expect, it } from "vitest";
import { feishuAdapter, feishuEmulator } from "../../helpers/feishu.js";

// The outbound queue over the real SDK, against the emulator's limits and faults.
describe("Feishu outbound through the SDK", () => {
  it("keeps order per chat under the 5 QPS per-chat limit, with no rate-limit refusal", async () => {
    const emu = await feishuEmulator();
    const chats = [
      emu.defaultChat,
      emu.createChat({ members: ["bridge"] }),
      emu.createChat({ members: ["bridge"] }),
    ];
    const { adapter } = await feishuAdapter(emu);
    await adapter.start({ onMessage: () => {} });
    const sends = chats.flatMap((chatId) =>
      Array.from({ length: 12 }, (_, i) =>
        adapter.outbound.send({ chatId, content: { kind: "text", text: `${chatId} #${i}` } }),
      ),
    );
    await Promise.all(sends);
    for (const chatId of chats) {
      expect(emu.messages(chatId).map((m) => m.text)).toEqual(
        Array.from({ length: 12 }, (_, i) => `${chatId} #${i}`),
      );
    }
    expect(emu.callsTo("/open-apis/im/v1/messages").filter((c) => c.code !== 0)).toEqual([]);
  });

  it("waits out a 429 until the reset header and recovers 5xx, posting each message exactly once", async () => {
    const emu = await feishuEmulator();
    const { adapter } = await feishuAdapter(emu);
    await adapter.start({ onMessage: () => {} });
    emu.fault({ method: "POST", path: "/open-apis/im/v1/messages", status: 429, resetSec: 1, times: 1 });
    emu.fault({ method: "POST", path: "/open-apis/im/v1/messages", status: 503, times: 2 });
    // The worst case: Feishu created the message, then the answer was lost.
    emu.fault({
      method: "POST",
      path: "/open-apis/im/v1/messages",
      status: 500,
      commitThenFail: true,
      times: 1,
    });
    const started = Date.now();
    const sent = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: { kind: "text", text: "只发一次" },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // the reset header was honoured
    const posted = emu.messages(emu.defaultChat).filter((m) => m.text === "只发一次");
    expect(posted).toHaveLength(1);
    expect(posted[0]!.messageId).toBe(sent.messageId);
    const attempts = emu.callsTo("/open-apis/im/v1/messages").filter((c) => c.method === "POST");
    expect(attempts.map((c) => c.status)).toEqual([429, 503, 503, 500, 200]);
    expect(new Set(attempts.map((c) => (c.body as { uuid?: string }).uuid)).size).toBe(1);
    expect(adapter.outbound.stats()).toMatchObject({ rateLimited: 1 });
  });

  it("falls back from a rejected card to text, and truncates over-size text with a pointer", async () => {
    const emu = await feishuEmulator({ limits: { textMaxBytes: 4_000 } });
    const { adapter } = await feishuAdapter(emu, { limits: { textMaxBytes: 3_000 } });
    await adapter.start({ onMessage: () => {} });
    const fallback = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: {
        kind: "card",
        card: { elements: [{ tag: "i_am_invalid" }] },
        fallbackText: "任务 T7 已完成",
      },
    });
    expect(fallback.fellBackToText).toBe(true);
    expect(emu.message(fallback.messageId)).toMatchObject({ msgType: "text", text: "任务 T7 已完成" });

    const long = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: { kind: "text", text: "输出".repeat(5_000) },
      fullOutputRef: "messages/to-clawbridge.jsonl",
    });
    expect(long.truncated).toBe(true);
    const text = emu.message(long.messageId)!.text!;
    expect(text.startsWith("输出输出")).toBe(true);
    expect(text.endsWith("(truncated — full output: messages/to-clawbridge.jsonl)")).toBe(true);
  });

  it("coalesces a stream of card patches within the per-message limit and ends on the final card", async () => {
    const emu = await feishuEmulator();
    const { adapter } = await feishuAdapter(emu);
    await adapter.start({ onMessage: () => {} });
    const card = (n: number) => ({ elements: [{ tag: "markdown", content: `step ${n}` }] });
    const sent = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: { kind: "card", card: card(0), fallbackText: "step 0" },
    });
    const patches: Promise<void>[] = [];
    for (let n = 1; n <= 40; n++) {
      patches.push(
        adapter.outbound.patch(sent.messageId, card(n), { chatId: emu.defaultChat, final: n === 40 }),
      );
      if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(patches);
    const message = emu.message(sent.messageId)!;
    expect(JSON.stringify(message.content)).toContain("step 40");
    expect(message.patches.length).toBeLessThan(40);
    expect(message.patches.length).toBeGreaterThan(0);
    expect(emu.callsTo(/\/open-apis\/im\/v1\/messages\/om_/).filter((c) => c.code === 230020)).toEqual([]);
  });

  it("gets a fresh tenant token when Feishu stops accepting the cached one", async () => {
    const emu = await feishuEmulator();
    const { adapter } = await feishuAdapter(emu);
    await adapter.start({ onMessage: () => {} });
    emu.revokeTokens();
    const sent = await adapter.outbound.send({
      chatId: emu.defaultChat,
      content: { kind: "text", text: "after revoke" },
    });
    expect(emu.message(sent.messageId)?.text).toBe("after revoke");
  });
});
