import { describe, expect, it } from "vitest";
import { ClawbridgeError } from "../../../src/core/index.js";
import { feishuErrors } from "../../helpers/memory-feishu-api.js";
import { outboundHarness } from "../../helpers/outbound-harness.js";
import { waitFor } from "../../helpers/wait.js";

// setTimeout may fire a millisecond early by Date.now(); allow a little for that.
const TIMER_SLACK_MS = 5;

const text = (value: string) => ({ kind: "text" as const, text: value });

describe("OutboundQueue.send — order and pacing", () => {
  it("keeps each chat's order while chats proceed side by side", async () => {
    const { api, queue } = outboundHarness({
      api: { sendPerChatQps: 20, appQps: 200 },
      limits: { perChatQps: 20, appQps: 200 },
    });
    const chats = ["oc_a", "oc_b", "oc_c", "oc_d", "oc_e"];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      for (const chatId of chats) sends.push(queue.send({ chatId, content: text(`${chatId} #${i}`) }));
    }
    await Promise.all(sends);

    for (const chatId of chats) {
      expect(api.texts(chatId)).toEqual(Array.from({ length: 20 }, (_, i) => `${chatId} #${i}`));
    }
    // Concurrency: chat b started long before chat a was done.
    const all = api.messages();
    const lastOfA = all.findLastIndex((m) => m.chatId === "oc_a");
    const firstOfB = all.findIndex((m) => m.chatId === "oc_b");
    expect(firstOfB).toBeLessThan(lastOfA);
    expect(api.count("CB_FEISHU_RATE_LIMITED")).toBe(0);
    expect(queue.stats()).toMatchObject({
      sent: 100,
      rateLimited: 0,
      retries: 0,
      failed: 0,
      queued: 0,
      inFlight: 0,
    });
  });

  it("stays within Feishu's default 5 per chat per second without being told off", async () => {
    // Feishu's real limits on both sides, a little latency: the memory API's own enforcement
    // is the judge, so any 230020 would show up as a rate-limited call.
    const { api, queue } = outboundHarness({ api: { latencyMs: 3 } });
    const chats = ["oc_1", "oc_2", "oc_3"];
    await Promise.all(
      chats.flatMap((chatId) =>
        Array.from({ length: 11 }, (_, i) => queue.send({ chatId, content: text(`${chatId}-${i}`) })),
      ),
    );
    expect(api.count("CB_FEISHU_RATE_LIMITED")).toBe(0);
    for (const chatId of chats) {
      const times = api.callTimes((c) => c.chatId === chatId);
      expect(times).toHaveLength(11);
      // No sliding second holds more than 5 starts.
      for (let i = 5; i < times.length; i++) expect(times[i]! - times[i - 5]!).toBeGreaterThanOrEqual(1000);
      expect(api.texts(chatId)).toEqual(Array.from({ length: 11 }, (_, i) => `${chatId}-${i}`));
    }
  });

  it("orders a reply by its chat and passes replyInThread", async () => {
    const { api, queue } = outboundHarness();
    const root = await queue.send({ chatId: "oc_t", content: text("question") });
    const [reply, after] = await Promise.all([
      queue.send({ chatId: "oc_t", content: text("answer"), replyTo: root.messageId, replyInThread: true }),
      queue.send({ chatId: "oc_t", content: text("after") }),
    ]);
    expect(api.texts("oc_t")).toEqual(["question", "answer", "after"]);
    expect(api.message(reply.messageId)).toMatchObject({ parentId: root.messageId });
    expect(reply.threadId).toBeDefined();
    expect(after.chatId).toBe("oc_t");
    expect(api.calls.map((c) => c.method)).toEqual(["sendMessage", "replyMessage", "sendMessage"]);
  });
});

describe("OutboundQueue.send — uuid and retries", () => {
  it("waits out a 429's retryAfterMs, then retries the same request once: one message", async () => {
    const { api, queue } = outboundHarness();
    api.failNext(1, feishuErrors.rateLimited({ retryAfterMs: 250, scope: "chat" }));
    const sent = await queue.send({ chatId: "oc_x", content: text("hello") });

    const calls = api.calls.filter((c) => c.method === "sendMessage");
    expect(calls.map((c) => c.outcome)).toEqual(["CB_FEISHU_RATE_LIMITED", "ok"]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(250 - TIMER_SLACK_MS);
    expect(new Set(calls.map((c) => c.uuid))).toEqual(new Set([sent.uuid]));
    expect(api.messages("oc_x")).toHaveLength(1);
    expect(queue.stats()).toMatchObject({ sent: 1, rateLimited: 1, retries: 1 });
  });

  it("pauses only the limited chat on a per-chat 429", async () => {
    const { api, queue } = outboundHarness();
    // A pause far longer than the test: the other chat must get through while it lasts.
    api.failNext(1, feishuErrors.rateLimited({ retryAfterMs: 60_000, scope: "chat" }), {
      when: (c) => c.chatId === "oc_slow",
    });
    const slow = queue.send({ chatId: "oc_slow", content: text("held") });
    await waitFor(() => api.calls.length === 1);
    await Promise.all(["b1", "b2", "b3"].map((t) => queue.send({ chatId: "oc_free", content: text(t) })));
    expect(api.texts("oc_free")).toEqual(["b1", "b2", "b3"]);
    expect(queue.stats().chats).toEqual({ oc_slow: 1 });
    await queue.close({ drainMs: 0 });
    await expect(slow).rejects.toMatchObject({ code: "CB_FEISHU_QUEUE_CLOSED" });
  });

  it("pauses every chat on an app-wide limit (99991400)", async () => {
    const { api, queue } = outboundHarness();
    api.failNext(1, feishuErrors.rateLimited({ retryAfterMs: 300, scope: "app" }));
    const first = queue.send({ chatId: "oc_a", content: text("a") });
    await waitFor(() => api.calls.length === 1);
    await queue.send({ chatId: "oc_b", content: text("b") });
    await first;
    const limitedAt = api.calls[0]!.at;
    expect(api.callTimes((c) => c.chatId === "oc_b")[0]! - limitedAt).toBeGreaterThanOrEqual(
      300 - TIMER_SLACK_MS,
    );
  });

  it("retries 5xx three times with the same uuid and posts once", async () => {
    const { api, queue, sink } = outboundHarness();
    api.failNext(3, () => feishuErrors.server(502));
    const sent = await queue.send({ chatId: "oc_x", content: text("once"), uuid: "caller-uuid-1" });
    expect(sent.uuid).toBe("caller-uuid-1");
    expect(api.calls.map((c) => [c.outcome, c.uuid])).toEqual([
      ["CB_FEISHU_SERVER", "caller-uuid-1"],
      ["CB_FEISHU_SERVER", "caller-uuid-1"],
      ["CB_FEISHU_SERVER", "caller-uuid-1"],
      ["ok", "caller-uuid-1"],
    ]);
    expect(api.texts("oc_x")).toEqual(["once"]);
    expect(queue.stats()).toMatchObject({ sent: 1, retries: 3, rateLimited: 0 });
    expect(sink.records().filter((r) => r.level === 40)).toHaveLength(3);
  });

  it("turns 'stored, then 500' into one message: the retry's uuid is deduplicated", async () => {
    const { api, queue } = outboundHarness();
    api.failNext(1, feishuErrors.server(), { afterCommit: true });
    const sent = await queue.send({ chatId: "oc_x", content: text("committed") });
    expect(api.messages("oc_x")).toHaveLength(1);
    expect(sent.messageId).toBe(api.messages("oc_x")[0]!.messageId);
    expect(api.calls[1]).toMatchObject({ outcome: "ok", deduplicated: true, uuid: sent.uuid });
  });

  it("retries network failures, and holds the chat's later messages behind the failing one", async () => {
    const { api, queue } = outboundHarness();
    api.failNext(2, feishuErrors.network, { when: (c) => c.content?.includes("first") ?? false });
    await Promise.all([
      queue.send({ chatId: "oc_x", content: text("first") }),
      queue.send({ chatId: "oc_x", content: text("second") }),
    ]);
    expect(api.texts("oc_x")).toEqual(["first", "second"]);
  });

  it("gives up after giveUpAfterMs: rejects with the last error and logs it at error level", async () => {
    const { api, queue, sink } = outboundHarness({ retry: { baseMs: 20, maxMs: 40, giveUpAfterMs: 200 } });
    api.failNext(1000, () => feishuErrors.server(503));
    const error = await queue.send({ chatId: "oc_x", content: text("doomed") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClawbridgeError);
    expect((error as ClawbridgeError).code).toBe("CB_FEISHU_SERVER");
    expect(api.messages()).toHaveLength(0);
    expect(new Set(api.calls.map((c) => c.uuid)).size).toBe(1);
    const errors = sink.records().filter((r) => r.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ chatId: "oc_x", msg: expect.stringContaining("gave up") });
    expect(queue.stats()).toMatchObject({ failed: 1, sent: 0 });
  });

  it("does not retry what Feishu refused, and rejects the text (logged)", async () => {
    const { api, queue, sink } = outboundHarness();
    api.failNext(1, feishuErrors.rejected(230002, "bot not in chat"));
    await expect(queue.send({ chatId: "oc_x", content: text("no") })).rejects.toMatchObject({
      code: "CB_FEISHU_REJECTED",
    });
    expect(api.calls).toHaveLength(1);
    expect(sink.records().some((r) => r.level === 50 && r.chatId === "oc_x")).toBe(true);
    // The chat carries on.
    await queue.send({ chatId: "oc_x", content: text("yes") });
    expect(api.texts("oc_x")).toEqual(["yes"]);
  });

  it("refuses malformed requests with CB_USAGE without queueing them", async () => {
    const { api, queue } = outboundHarness();
    await expect(
      queue.send({ chatId: "oc_x", content: text("x"), uuid: "u".repeat(51) }),
    ).rejects.toMatchObject({
      code: "CB_USAGE",
    });
    await expect(queue.send({ chatId: "", content: text("x") })).rejects.toMatchObject({ code: "CB_USAGE" });
    await expect(
      queue.send({ chatId: "oc_x", content: text("x"), replyInThread: true }),
    ).rejects.toMatchObject({ code: "CB_USAGE" });
    expect(api.calls).toHaveLength(0);
  });
});

describe("OutboundQueue.send — cards", () => {
  it("forces update_multi on schema 1.0 and 2.0 cards without touching the caller's card", async () => {
    const { api, queue } = outboundHarness();
    const v1 = { config: { wide_screen_mode: true, update_multi: false }, elements: [] };
    const bare = { elements: [{ tag: "div", text: { tag: "plain_text", content: "hi" } }] };
    const v2 = { schema: "2.0", body: { elements: [] } };
    const results = await Promise.all(
      [v1, bare, v2].map((card) =>
        queue.send({ chatId: "oc_c", content: { kind: "card", card, fallbackText: "fallback" } }),
      ),
    );
    const contents = results.map(
      (r) => JSON.parse(api.message(r.messageId)!.content) as Record<string, unknown>,
    );
    expect(contents[0]).toMatchObject({ config: { wide_screen_mode: true, update_multi: true } });
    expect(contents[1]).toMatchObject({ config: { update_multi: true }, elements: bare.elements });
    expect(contents[2]).toMatchObject({
      schema: "2.0",
      config: { update_multi: true },
      body: { elements: [] },
    });
    expect(v1.config.update_multi).toBe(false);
    expect(bare).not.toHaveProperty("config");
    expect(results.every((r) => !r.fellBackToText)).toBe(true);
  });

  it("sends the fallback text (derived uuid) when Feishu rejects the card", async () => {
    const { api, queue, sink } = outboundHarness();
    const sent = await queue.send({
      chatId: "oc_c",
      uuid: "card-uuid",
      content: { kind: "card", card: { elements: [{ tag: "i_am_invalid" }] }, fallbackText: "plain version" },
    });
    expect(sent).toMatchObject({ fellBackToText: true, uuid: "card-uuid-t" });
    expect(sent.truncated).toBeUndefined();
    expect(api.messages("oc_c").map((m) => [m.msgType, m.uuid])).toEqual([["text", "card-uuid-t"]]);
    expect(api.texts("oc_c")).toEqual(["plain version"]);
    const warning = sink.records().find((r) => r.level === 40);
    expect(warning).toMatchObject({ feishuCode: 230099, uuid: "card-uuid" });
    expect(queue.stats()).toMatchObject({ sent: 1, fallbacks: 1, failed: 0 });
  });

  it("sends a card over cardMaxBytes as its fallback text with the notice", async () => {
    const { api, queue } = outboundHarness({ limits: { cardMaxBytes: 500 } });
    const card = { elements: [{ tag: "markdown", content: "x".repeat(1000) }] };
    const sent = await queue.send({
      chatId: "oc_c",
      content: { kind: "card", card, fallbackText: "summary" },
      fullOutputRef: "mailbox/ai-pc/out.md",
    });
    expect(sent).toMatchObject({ fellBackToText: true, truncated: true });
    expect(api.texts("oc_c")).toEqual(["summary\n… (truncated — full output: mailbox/ai-pc/out.md)"]);
    expect(api.calls.map((c) => c.msgType)).toEqual(["text"]);
    expect(queue.stats()).toMatchObject({ fallbacks: 1, truncated: 1 });
  });
});
