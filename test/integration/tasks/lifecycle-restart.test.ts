import { describe, expect, it } from "vitest";
import { TaskJournal, type Task } from "../../../src/tasks/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { fakeGateway } from "../../helpers/gateway.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  cardOf,
  cardText,
  cardTitle,
  cardWhen,
  command,
  finalMessage,
  inbox,
  journaled,
  journaledAs,
  nodesOnline,
  repliesTo,
  requests,
  slowScript,
} from "./lifecycle-kit.js";

// A task outlives the bridge and the link: after a restart it is re-attached to its run (or
// failed with the reason when the run is gone), and a dropped connection is waited out.

/** Starts the bridge and a task on ai-pc; resolves once its card shows the first output. */
async function taskUnderway(world: BridgeWorld) {
  const first = await startWorldBridge(world);
  await nodesOnline(first.bridge);
  const said = command(world, world.wang, "/run ai-pc 长时间的训练");
  await cardWhen(
    world,
    said,
    (c) => cardTitle(c).startsWith("Task T1 · ai-pc · running") && cardText(c.content).includes("step 1"),
    "T1 running with output",
  );
  const t1 = (await journaled(world, "T1"))!;
  return { bridge: first.bridge, said, t1 };
}

function cardsUnder(world: BridgeWorld, messageId: string) {
  return repliesTo(world, messageId).filter((m) => m.msgType === "interactive");
}

/** Rewrites a task in the stopped bridge's journal: where a crash between two steps leaves it. */
async function journalAs(world: BridgeWorld, id: string, change: (task: Task) => Task): Promise<void> {
  const journal = new TaskJournal({ stateDir: world.stateDir });
  await journal.load();
  await journal.put(change(journal.get(id)!));
  await journal.close();
}

describe("task lifecycle: restarts and dropped links", () => {
  it("a restart mid-task re-attaches to the run (agent.wait, no second run) and finishes it on the same card", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(6, 350) } } });
    const { bridge, said, t1 } = await taskUnderway(world);

    expect(await bridge.stop(5_000)).toBe(true);
    // Stopping is not an ending: the journal still has T1 running, the gateway still runs it.
    expect((await journaled(world, "T1"))?.state).toBe("running");
    expect(agentRuns(world, "ai-pc")[0]?.status).toBe("running");

    await startWorldBridge(world);
    await waitFor(
      () => requests(world, "ai-pc", "agent.wait").some((f) => f.params?.runId === t1.envelopeId),
      {
        what: "agent.wait on T1's run",
      },
    );
    const done = await journaledAs(world, "T1", "done");
    expect(done.output).toBe("step 1\nstep 2\nstep 3\nstep 4\nstep 5\nall done");
    expect(requests(world, "ai-pc", "agent")).toHaveLength(1);
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);

    // The card posted before the restart is patched to the true state; no second card.
    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"),
      "T1 done",
    );
    expect(cardText(card.content)).toContain("all done");
    expect(cardsUnder(world, said.messageId)).toHaveLength(1);
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(/<\/at> Task T1 is done \(ai-pc, \d+ s\)$/);
    await waitFor(() => inbox(world, "clawbridge").some((e) => e.taskId === "T1"), { what: "T1's result" });
    expect(inbox(world, "clawbridge").filter((e) => e.taskId === "T1")).toHaveLength(1);
    expect(repliesTo(world, said.messageId).filter((m) => m.msgType === "text")).toHaveLength(1);
  });

  it("a run the gateway no longer knows (a fresh gateway on the same port) fails the task with the reason", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(6, 350) } } });
    const { bridge, said, t1 } = await taskUnderway(world);
    expect(await bridge.stop(5_000)).toBe(true);

    // ai-pc's OpenClaw restarts meanwhile: same address, no memory of the run.
    const port = world.gateways["ai-pc"].port;
    await world.gateways["ai-pc"].close();
    world.gateways["ai-pc"] = await fakeGateway({ port, script: { kind: "text", text: "new", chunks: 1 } });

    await startWorldBridge(world);
    const failed = await journaledAs(world, "T1", "failed");
    expect(failed.reason).toContain(`no longer knows run ${t1.envelopeId}`);
    expect(requests(world, "ai-pc", "agent.wait").map((f) => f.params)).toContainEqual(
      expect.objectContaining({ runId: t1.envelopeId }),
    );
    // Never run again behind anyone's back: the fresh gateway got no `agent` request.
    expect(agentRuns(world, "ai-pc")).toEqual([]);

    const card = await cardWhen(world, said, (c) => cardTitle(c).includes("· failed"), "the failed card");
    expect(cardTitle(card)).toMatch(/^Task T1 · ai-pc · failed · \d+ s$/);
    expect(cardText(card.content)).toContain("Reason: ");
    expect(cardText(card.content)).toContain("no longer knows run");
    expect(cardsUnder(world, said.messageId)).toHaveLength(1);
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(/<\/at> Task T1 failed \(ai-pc, \d+ s\): .*no longer knows run/);
  });

  it("the link drops while the run streams: the task is waited out after the reconnect and ends done", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(5, 300) } } });
    const { said, t1 } = await taskUnderway(world);
    const connectionsBefore = world.gateways["ai-pc"].clients().length;
    expect(connectionsBefore).toBeGreaterThan(0);

    world.gateways["ai-pc"].dropConnections();
    const done = await journaledAs(world, "T1", "done", 15_000);
    expect(done.output).toBe("step 1\nstep 2\nstep 3\nstep 4\nall done");
    // Waited for, not run twice: one run at the gateway, awaited again on the new connection.
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
    expect(requests(world, "ai-pc", "agent.wait").map((f) => f.params)).toContainEqual(
      expect.objectContaining({ runId: t1.envelopeId }),
    );
    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"),
      "T1 done",
    );
    expect(cardText(card.content)).toContain("all done");
    expect(cardOf(world, said)?.messageId).toBe(card.messageId);
    expect((await finalMessage(world, said)).text).toContain("Task T1 is done (ai-pc, ");
  });
  it("a run journaled but never accepted (stopped before the gateway had it) is sent again under its key and ends done", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(3, 200) } } });
    const { bridge, said, t1 } = await taskUnderway(world);
    expect(await bridge.stop(5_000)).toBe(true);
    expect((await journaled(world, "T1"))?.runAccepted).toBe(true);
    // A fresh gateway that never had the run, and a journal from before it was accepted.
    const port = world.gateways["ai-pc"].port;
    await world.gateways["ai-pc"].close();
    world.gateways["ai-pc"] = await fakeGateway({
      port,
      script: { kind: "text", text: "ran once", chunks: 1 },
    });
    await journalAs(world, "T1", (task) => ({ ...task, runAccepted: false }));

    await startWorldBridge(world);
    const done = await journaledAs(world, "T1", "done");
    expect(done.output).toBe("ran once");
    expect(agentRuns(world, "ai-pc").map((r) => r.idempotencyKey)).toEqual([t1.envelopeId]);
    expect(requests(world, "ai-pc", "agent.wait")).toEqual([]);
    await cardWhen(world, said, (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"), "T1 done");
    expect(cardsUnder(world, said.messageId)).toHaveLength(1);
  });

  it("a task journaled as ended whose card still says running (stopped before the patch) gets its final card at the next start", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(30, 350) } } });
    const { bridge, said } = await taskUnderway(world);
    expect(await bridge.stop(5_000)).toBe(true);
    const endedAt = Date.now();
    await journalAs(world, "T1", (task) => ({
      ...task,
      state: "done",
      endedAt,
      output: "finished elsewhere",
    }));
    expect(cardTitle(cardOf(world, said)!)).toMatch(/· running/);

    await startWorldBridge(world);
    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"),
      "T1 done",
    );
    expect(cardText(card.content)).toContain("finished elsewhere");
    expect(cardsUnder(world, said.messageId)).toHaveLength(1);
    // Ended already: its run is neither awaited nor sent again.
    expect(requests(world, "ai-pc", "agent.wait")).toEqual([]);
    expect(requests(world, "ai-pc", "agent")).toHaveLength(1);
  });
});
