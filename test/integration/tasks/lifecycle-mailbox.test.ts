import { afterEach, describe, expect, it } from "vitest";
import { startMailboxAgent, type MailboxAgent } from "../../../src/sim/mailbox-agent.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  cardText,
  cardTitle,
  cardWhen,
  command,
  finalMessage,
  inbox,
  journaled,
  journaledAs,
  openId,
  repliesTo,
} from "./lifecycle-kit.js";

// A mailbox-only node (nas-agent: no gateway) gets its tasks and messages as lines in its
// inbox and answers in the bridge's inbox, as the seed's agents do (ARCHITECTURE.md "Nodes").

const agents: MailboxAgent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
});

/** nas-agent's agent, polling its inbox from the start. */
async function nasAgent(world: BridgeWorld) {
  const agent = await startMailboxAgent({ root: world.root, node: "nas-agent", fromStart: true, pollMs: 50 });
  agents.push(agent);
  return agent;
}

describe("task lifecycle: a mailbox-only node", () => {
  it("/run nas-agent: a task envelope in its inbox, a card that waits for it; its answer completes the task", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    const wang = openId(world, world.wang);

    const said = command(world, world.wang, "/run nas-agent 备份一下照片");
    const envelope = await waitFor(() => inbox(world, "nas-agent").find((e) => e.type === "task"), {
      what: "the task envelope in to-nas-agent.jsonl",
    });
    const t1 = (await journaled(world, "T1"))!;
    expect(envelope).toMatchObject({
      id: t1.envelopeId,
      from: `user:${wang}`,
      to: "nas-agent",
      taskId: "T1",
      content: "备份一下照片",
      source: "clawbridge",
    });
    // Its agent reads the line itself: it is not marked as handed to a gateway.
    expect(envelope.delivered).toBeUndefined();
    expect(t1).toMatchObject({ state: "running", node: "nas-agent", via: "mailbox" });
    const waiting = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).startsWith("Task T1 · waiting for nas-agent to pick it up · "),
      "the card waiting for nas-agent",
    );
    expect(cardText(waiting.content)).toContain(
      "The task is in messages/to-nas-agent.jsonl; nas-agent's agent reads it from there and answers.",
    );

    await nasAgent(world);
    const done = await journaledAs(world, "T1", "done");
    expect(done.output).toBe("nas-agent 已处理 / handled: 备份一下照片");
    // The answer line names the task; it is the folder's record of the result.
    const answers = inbox(world, "clawbridge").filter((e) => e.taskId === "T1");
    expect(answers[0]).toMatchObject({
      from: "nas-agent",
      to: "clawbridge",
      type: "result",
      replyTo: t1.envelopeId,
      content: done.output,
    });
    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).startsWith("Task T1 · nas-agent · done"),
      "done",
    );
    expect(cardText(card.content)).toContain("nas-agent 已处理 / handled: 备份一下照片");
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(
      new RegExp(`^<at user_id="${wang}">.*</at> Task T1 is done \\(nas-agent, \\d+ s\\)$`),
    );
    // The answer is already in the bridge's inbox, where a person's result goes: not written twice.
    expect(inbox(world, "clawbridge").filter((e) => e.taskId === "T1")).toHaveLength(1);
  });

  it("/tell nas-agent: the line goes to its inbox and its answer is posted under the command", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    await nasAgent(world);

    const said = command(world, world.wang, "/tell nas-agent 今晚备份吗？");
    const line = await waitFor(() => inbox(world, "nas-agent").find((e) => e.content === "今晚备份吗？"), {
      what: "the message in to-nas-agent.jsonl",
    });
    expect(line).toMatchObject({
      from: `user:${openId(world, world.wang)}`,
      to: "nas-agent",
      type: "message",
    });
    const answer = await waitFor(
      () => repliesTo(world, said.messageId).find((m) => m.text?.startsWith("[nas-agent] ")),
      { what: "nas-agent's answer in the thread" },
    );
    expect(answer.text).toBe("[nas-agent] nas-agent 已处理 / handled: 今晚备份吗？");
    expect(answer.rootId ?? answer.parentId).toBe(said.messageId);
    expect(inbox(world, "clawbridge")).toEqual([
      expect.objectContaining({ from: "nas-agent", to: "clawbridge", replyTo: line.id }),
    ]);
    // No task was made of a message.
    expect(await journaled(world, "T1")).toBeUndefined();
  });
});
