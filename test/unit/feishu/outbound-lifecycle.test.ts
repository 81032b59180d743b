import { describe, expect, it } from "vitest";
import type { OutboundLimits } from "../../../src/feishu/outbound/index.js";
import { feishuErrors } from "../../helpers/memory-feishu-api.js";
import { outboundHarness } from "../../helpers/outbound-harness.js";
import { waitFor } from "../../helpers/wait.js";

// No chat limit on the fake's side: these tests are about the queue's own pacing and closing.
const setup = (limits: Partial<OutboundLimits> = {}) =>
  outboundHarness({ api: { sendPerChatQps: Infinity }, limits });

const text = (value: string) => ({ kind: "text" as const, text: value });

describe("OutboundQueue lifecycle", () => {
  it("close() drains what was queued, then refuses new work with CB_FEISHU_QUEUE_CLOSED", async () => {
    const { api, queue } = setup();
    const sends = ["1", "2", "3"].map((t) => queue.send({ chatId: "oc_x", content: text(t) }));
    const result = await queue.close({ drainMs: 5_000 });
    expect(result).toEqual({ drained: true, abandoned: 0, stillInFlight: 0 });
    await Promise.all(sends);
    expect(api.texts("oc_x")).toEqual(["1", "2", "3"]);
    expect(queue.closed).toBe(true);
    await expect(queue.send({ chatId: "oc_x", content: text("late") })).rejects.toMatchObject({
      code: "CB_FEISHU_QUEUE_CLOSED",
    });
    await expect(queue.patch("om_1", { elements: [] })).rejects.toMatchObject({
      code: "CB_FEISHU_QUEUE_CLOSED",
    });
    expect(await queue.close()).toBe(result);
  });

  it("close() rejects what could not go out within drainMs, and says so in the log", async () => {
    // One message per second per chat: the first goes out, the rest wait past the drain.
    const { api, queue, sink } = setup({ perChatQps: 1 });
    const sends = ["1", "2", "3", "4"].map((t) => queue.send({ chatId: "oc_x", content: text(t) }));
    const result = await queue.close({ drainMs: 100 });
    const settled = await Promise.allSettled(sends);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "rejected"]);
    for (const s of settled.slice(1)) {
      expect((s as PromiseRejectedResult).reason).toMatchObject({ code: "CB_FEISHU_QUEUE_CLOSED" });
    }
    expect(result).toEqual({ drained: false, abandoned: 3, stillInFlight: 0 });
    expect(api.texts("oc_x")).toEqual(["1"]);
    expect(queue.stats()).toMatchObject({ failed: 3, queued: 0 });
    expect(sink.records().some((r) => r.level === 40 && r.abandoned === 3)).toBe(true);
  });

  it("close() stops a message that is waiting for its retry; its error says why it failed before", async () => {
    const { api, queue } = setup();
    api.failNext(1, feishuErrors.rateLimited({ retryAfterMs: 60_000 }));
    const send = queue.send({ chatId: "oc_x", content: text("held") });
    await waitFor(() => api.calls.length === 1);
    await queue.close({ drainMs: 50 });
    const error = await send.catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "CB_FEISHU_QUEUE_CLOSED",
      cause: { code: "CB_FEISHU_RATE_LIMITED" },
    });
  });

  it("flush() resolves when everything queued so far is done, or false at its timeout", async () => {
    const { api, queue } = setup({ perChatQps: 2 });
    expect(await queue.flush()).toBe(true);
    for (const t of ["1", "2", "3"]) void queue.send({ chatId: "oc_x", content: text(t) });
    expect(await queue.flush(50)).toBe(false);
    expect(await queue.flush()).toBe(true);
    expect(api.texts("oc_x")).toEqual(["1", "2", "3"]);
  });

  it("stats() shows queue lengths per chat while messages wait", async () => {
    const { queue } = setup({ perChatQps: 1 });
    const sends = ["1", "2"].map((t) => queue.send({ chatId: "oc_busy", content: text(t) }));
    void queue.send({ chatId: "oc_quiet", content: text("q") });
    await waitFor(() => queue.stats().sent === 2);
    const stats = queue.stats();
    expect(stats.chats).toEqual({ oc_busy: 1 });
    expect(stats.queued).toBe(1);
    await Promise.all(sends);
    expect(queue.stats()).toMatchObject({ chats: {}, queued: 0, inFlight: 0, sent: 3 });
  });
});
