import { describe, expect, it } from "vitest";
import type { CardJson } from "../../../src/feishu/types.js";
import type { OutboundQueue } from "../../../src/feishu/outbound/index.js";
import { feishuErrors } from "../../helpers/memory-feishu-api.js";
import { outboundHarness } from "../../helpers/outbound-harness.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const card = (step: number | string): CardJson => ({
  elements: [{ tag: "div", text: { tag: "plain_text", content: `step ${step}` } }],
});
const stepOf = (content: string) =>
  (JSON.parse(content) as { elements: { text: { content: string } }[] }).elements[0]!.text.content;

async function liveCard(queue: OutboundQueue) {
  const sent = await queue.send({
    chatId: "oc_live",
    content: { kind: "card", card: card(0), fallbackText: "…" },
  });
  return sent.messageId;
}

describe("OutboundQueue.patch", () => {
  it("coalesces a burst: 20 patches, far fewer calls, the 20th card shown, every caller resolved", async () => {
    const { api, queue } = outboundHarness();
    const messageId = await liveCard(queue);
    const patches = Array.from({ length: 20 }, (_, i) => queue.patch(messageId, card(i + 1)));
    await Promise.all(patches);

    const calls = api.calls.filter((c) => c.method === "patchMessage");
    expect(calls.length).toBeLessThanOrEqual(3);
    expect(stepOf(api.message(messageId)!.content)).toBe("step 20");
    expect(JSON.parse(api.message(messageId)!.content)).toMatchObject({ config: { update_multi: true } });
    const stats = queue.stats();
    expect(stats.patched).toBe(calls.length);
    expect(stats.coalesced).toBe(20 - calls.length);
    expect(stats).toMatchObject({ queued: 0, patchingMessages: 0, failed: 0 });
  });

  it("spaces patches of one message 1000/qps apart and never applies a stale card", async () => {
    const { api, queue } = outboundHarness({
      api: { patchPerMessageQps: 10 },
      limits: { perMessagePatchQps: 10 },
    });
    const messageId = await liveCard(queue);
    const done: Promise<void>[] = [];
    for (let i = 1; i <= 15; i++) {
      done.push(queue.patch(messageId, card(i)));
      await sleep(15);
    }
    await Promise.all(done);

    const times = api.callTimes((c) => c.method === "patchMessage");
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100 - 5);
    const applied = api.message(messageId)!.patches.map((p) => Number(stepOf(p).slice(5)));
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    expect(applied.at(-1)).toBe(15);
    expect(api.count("CB_FEISHU_RATE_LIMITED")).toBe(0);
  });

  it("drops a card that is not final when whoever asked stopped before its turn; a final card still goes", async () => {
    const { api, queue } = outboundHarness({
      api: { patchPerMessageQps: 2 },
      limits: { perMessagePatchQps: 2 },
    });
    const messageId = await liveCard(queue);
    let current = true;
    const stillCurrent = () => current;
    await queue.patch(messageId, card("running 1"), { stillCurrent });
    // The next may start ~500 ms later: the task layer stops here meanwhile.
    const waiting = queue.patch(messageId, card("running 2"), { stillCurrent });
    current = false;
    await waiting;
    const applied = () => api.message(messageId)!.patches.map(stepOf);
    expect(applied()).toEqual(["step running 1"]);
    await queue.patch(messageId, card("done"), { stillCurrent, final: true });
    expect(applied()).toEqual(["step running 1", "step done"]);
  });

  it("delivers a final patch despite 429s on that message", async () => {
    const { api, queue } = outboundHarness();
    const messageId = await liveCard(queue);
    api.failNext(2, () => feishuErrors.rateLimited({ retryAfterMs: 150, scope: "message" }), {
      method: "patchMessage",
    });
    await queue.patch(messageId, card("final"), { final: true, chatId: "oc_live" });
    expect(stepOf(api.message(messageId)!.content)).toBe("step final");
    expect(queue.stats()).toMatchObject({ rateLimited: 2, retries: 2, patched: 1 });
  });

  it("retries with the newest card when one arrives during the backoff", async () => {
    const { api, queue } = outboundHarness();
    const messageId = await liveCard(queue);
    api.failNext(1, feishuErrors.server(), { method: "patchMessage" });
    const first = queue.patch(messageId, card("old"));
    await waitFor(() => api.count("CB_FEISHU_SERVER") === 1);
    const second = queue.patch(messageId, card("new"), { final: true });
    await Promise.all([first, second]);
    expect(api.message(messageId)!.patches.map(stepOf)).toEqual(["step new"]);
  });

  it("keeps patches of different messages independent", async () => {
    const { api, queue } = outboundHarness();
    const a = await liveCard(queue);
    const b = await liveCard(queue);
    // Message a is held far longer than the test; b must not wait for it.
    api.failNext(1, feishuErrors.rateLimited({ retryAfterMs: 60_000, scope: "message" }), {
      when: (c) => c.messageId === a,
    });
    const slow = queue.patch(a, card("a"));
    await waitFor(() => api.calls.some((c) => c.messageId === a));
    await queue.patch(b, card("b"));
    expect(stepOf(api.message(b)!.content)).toBe("step b");
    expect(stepOf(api.message(a)!.content)).toBe("step 0");
    expect(queue.stats().patchingMessages).toBe(1);
    await queue.close({ drainMs: 0 });
    await expect(slow).rejects.toMatchObject({ code: "CB_FEISHU_QUEUE_CLOSED" });
  });

  it("shows a minimal notice card (same schema, header kept) for a card over the limit", async () => {
    const { api, queue } = outboundHarness({ limits: { cardMaxBytes: 2000 } });
    const sent = await queue.send({
      chatId: "oc_live",
      content: { kind: "card", card: { schema: "2.0", body: { elements: [] } }, fallbackText: "…" },
    });
    const header = { title: { tag: "plain_text", content: "Run 42" } };
    const huge = {
      schema: "2.0",
      header,
      body: { elements: [{ tag: "markdown", content: "y".repeat(5000) }] },
    };
    await queue.patch(sent.messageId, huge, { fullOutputRef: "out/run-42.md" });
    const shown = JSON.parse(api.message(sent.messageId)!.content) as Record<string, unknown>;
    expect(shown).toMatchObject({ schema: "2.0", header, config: { update_multi: true } });
    expect(JSON.stringify(shown)).toContain("… (truncated — full output: out/run-42.md)");
    expect(JSON.stringify(shown)).not.toContain("yyyy");
    expect(queue.stats().truncated).toBe(1);
  });

  it("rejects every coalesced caller when Feishu refuses the card", async () => {
    const { api, queue, sink } = outboundHarness();
    const sentText = await queue.send({ chatId: "oc_live", content: { kind: "text", text: "not a card" } });
    const results = await Promise.allSettled([
      queue.patch(sentText.messageId, card(1)),
      queue.patch(sentText.messageId, card(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: "CB_FEISHU_REJECTED" });
    expect(api.count("CB_FEISHU_REJECTED", "patchMessage")).toBe(1);
    expect(sink.records().some((r) => r.level === 50 && r.messageId === sentText.messageId)).toBe(true);
  });
});
