import { describe, expect, it } from "vitest";
import type { Person } from "../../../src/sim/feishu/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  buttonValues,
  cardText,
  cardTitle,
  cardWhen,
  command,
  finalMessage,
  journaled,
  journaledAs,
  nodesOnline,
  openId,
  repliesTo,
  requests,
  textReplies,
} from "./lifecycle-kit.js";

// Cancel (the command and the card's button) stops the run at the gateway; Retry makes a new
// task with the same prompt.

/** A world whose ai-pc runs never end by themselves, with a running T1 from 小王. */
async function runningTask(world: BridgeWorld) {
  const { bridge } = await startWorldBridge(world);
  await nodesOnline(bridge);
  const said = command(world, world.wang, "/run ai-pc 一直跑的任务");
  const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "T1's run at the gateway" });
  const card = await cardWhen(
    world,
    said,
    (c) => cardTitle(c).startsWith("Task T1 · ai-pc · running"),
    "T1 running",
  );
  return { said, run, card };
}

/** Presses a button on a card; the toast the bridge answered with. */
async function press(world: BridgeWorld, messageId: string, person: Person, value: Record<string, unknown>) {
  const before = world.emu.lastToast;
  await world.emu.clickCard(messageId, person, value).delivered;
  const after = world.emu.lastToast;
  return after === before ? undefined : after;
}

/** The run was aborted at the gateway: `chat.abort` for the task's session and run. */
async function abortedAtGateway(world: BridgeWorld, runId: string) {
  await waitFor(() => agentRuns(world, "ai-pc")[0]?.status === "aborted", { what: "the run aborted" });
  expect(requests(world, "ai-pc", "chat.abort").map((f) => f.params)).toEqual([
    { sessionKey: "agent:main:clawbridge:task-T1", runId },
  ]);
}

describe("task lifecycle: cancel and retry", () => {
  it("/cancel T1 aborts the run, the card ends cancelled, the journal says so", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: { kind: "stall" } } } });
    const { said, run } = await runningTask(world);

    const cancel = command(world, world.wang, "/cancel T1");
    const reply = await waitFor(() => textReplies(world, cancel)[0], { what: "the /cancel reply" });
    expect(reply).toBe("T1 is cancelled.");
    await abortedAtGateway(world, run.runId);

    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).includes("· cancelled"),
      "the cancelled card",
    );
    expect(cardTitle(card)).toMatch(/^Task T1 · ai-pc · cancelled · \d+ s$/);
    expect(buttonValues(card.content)).toEqual([{ cb: "task.retry", task: "T1" }]);
    const task = await journaledAs(world, "T1", "cancelled");
    expect(task.cancelledBy).toBe(openId(world, world.wang));
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(/<\/at> Task T1 was cancelled \(ai-pc, \d+ s\)/);
    // Cancelled once: cancelling again (the alias: the same text within 10 s is one message to
    // the bridge's dedup) says it has already finished.
    const again = command(world, world.wang, "/取消 T1");
    expect(await waitFor(() => textReplies(world, again)[0], { what: "the second reply" })).toBe(
      "T1 has already finished (cancelled).",
    );
    expect(requests(world, "ai-pc", "chat.abort")).toHaveLength(1);
  });

  it("the card's Cancel button: refused for a non-dispatcher, honoured for the requester; Retry runs the prompt again as T2", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: { kind: "stall" } } } });
    const { said, run, card } = await runningTask(world);
    expect(buttonValues(card.content)).toEqual([{ cb: "task.cancel", task: "T1" }]);

    // 小李 may not dispatch: the button says why and changes nothing.
    const refused = await press(world, card.messageId, world.li, { cb: "task.cancel", task: "T1" });
    expect(refused).toMatchObject({ type: "error" });
    expect(refused?.content).toContain("access.dispatchers");
    expect((await journaled(world, "T1"))?.state).toBe("running");
    expect(agentRuns(world, "ai-pc")[0]?.status).toBe("running");

    const toast = await press(world, card.messageId, world.wang, { cb: "task.cancel", task: "T1" });
    expect(toast).toEqual({ type: "success", content: "T1 is cancelled." });
    await abortedAtGateway(world, run.runId);
    const cancelled = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).includes("· cancelled"),
      "the cancelled card",
    );
    expect(cardText(cancelled.content)).toContain(`Cancelled by `);
    await journaledAs(world, "T1", "cancelled");

    // Retry on the finished card: a new task, T2, with the same prompt, that runs.
    world.gateways["ai-pc"].setScript({ kind: "text", text: "这次跑完了", chunks: 2, delayMs: 5 });
    const retried = await press(world, card.messageId, world.wang, { cb: "task.retry", task: "T1" });
    expect(retried).toMatchObject({ type: "success" });
    expect(retried?.content).toMatch(/^Task T2: /);
    const t2 = await journaledAs(world, "T2", "done");
    expect(t2).toMatchObject({ prompt: "一直跑的任务", retryOf: "T1", node: "ai-pc" });
    const second = agentRuns(world, "ai-pc")[1];
    expect(second?.sessionKey).toBe("agent:main:clawbridge:task-T2");
    expect(second?.message).toContain("一直跑的任务");
    expect(agentRuns(world, "ai-pc")).toHaveLength(2);
    // T2's card answers the same command; T1's card stays cancelled.
    const cards = await waitFor(
      () => {
        const all = repliesTo(world, said.messageId).filter((m) => m.msgType === "interactive");
        return all.length === 2 && cardTitle(all[1]).startsWith("Task T2 · ai-pc · done") ? all : undefined;
      },
      { what: "T2's card done under the command" },
    );
    expect(cardTitle(cards[0])).toContain("Task T1 · ai-pc · cancelled");
    expect(cardText(cards[1]!.content)).toContain("这次跑完了");
  });
});
