import { describe, expect, it } from "vitest";
import { LiveTaskCards } from "../../../src/tasks/live-cards.js";
import { outboundHarness } from "../../helpers/outbound-harness.js";
import { taskFixture as task } from "../../helpers/task-fixture.js";
import { sleep, waitFor } from "../../helpers/wait.js";

describe("LiveTaskCards", () => {
  it("once stopped, drops throttled updates but still shows a task's final state", async () => {
    const { api, queue } = outboundHarness();
    let messageId: string | undefined;
    const cards = new LiveTaskCards({
      chat: queue,
      cardSent: async (_id, sent) => void (messageId = sent),
      self: "clawbridge",
      throttleMs: 300,
    });
    cards.opened(task());
    await waitFor(() => messageId, { what: "the card sent" });
    const patches = () => api.message(messageId!)!.patches.map((p) => p.includes("step two"));
    cards.changed(task({ output: "step one", place: { chatId: "oc_1", cardMessageId: messageId } }));
    await waitFor(() => (patches().length === 1 ? true : undefined), { what: "the first update" });
    // Within the throttle: held back, then the task layer stops here (the role moved on).
    cards.changed(task({ output: "step two", place: { chatId: "oc_1", cardMessageId: messageId } }));
    cards.stop();
    await sleep(500);
    expect(patches()).toEqual([false]);
    const ended = task({
      state: "done",
      output: "all good",
      place: { chatId: "oc_1", cardMessageId: messageId },
    });
    cards.changed(ended);
    await waitFor(() => (patches().length === 2 ? true : undefined), { what: "the final card" });
    expect(api.message(messageId!)!.patches.at(-1)).toContain("all good");
  });
});
