import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type WorldConfig } from "../../helpers/bridge.js";
import { readTasks } from "../../../src/tasks/index.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  cardOf,
  cardTitle,
  cardWhen,
  command,
  journaled,
  journaledAs,
  nodesOnline,
  peakOverlap,
  slowScript,
  textReplies,
} from "./lifecycle-kit.js";

// The one task queue (ARCHITECTURE.md "Nodes"): a task waits while every node it may run on
// is busy or away, shows its place, and starts by itself — never beyond a node's maxConcurrent.

/** Only ai-pc has #gpu, with one slot. */
function gpuOnAiPc(tasks?: Record<string, unknown>) {
  return (config: WorldConfig) => {
    Object.assign(config.nodes[0]!, { tags: ["gpu"], maxConcurrent: 1 });
    if (tasks) config.tasks = tasks;
  };
}

describe("task lifecycle: the queue", () => {
  it("busy #gpu: later tasks show their place, start by themselves in order, never two at once on the node", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: slowScript(3, 300) } },
      configure: gpuOnAiPc(),
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);

    const first = command(world, world.wang, "/run #gpu 训练模型 A");
    await waitFor(() => agentRuns(world, "ai-pc").length === 1, { what: "T1 running" });
    const second = command(world, world.wang, "/run #gpu 训练模型 B");
    await cardWhen(world, second, (c) => cardTitle(c) === "Task T2 · #gpu · queued (#1)", "T2 queued #1");
    const third = command(world, world.wang, "/run #gpu 训练模型 C");
    await cardWhen(world, third, (c) => cardTitle(c) === "Task T3 · #gpu · queued (#2)", "T3 queued #2");
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
    expect((await journaled(world, "T2"))?.state).toBe("queued");

    // T1 ends → T2 starts by itself, and T3 moves up to #1.
    await journaledAs(world, "T1", "done");
    await cardWhen(world, second, (c) => cardTitle(c).startsWith("Task T2 · ai-pc · running"), "T2 running");
    await cardWhen(world, third, (c) => cardTitle(c) === "Task T3 · #gpu · queued (#1)", "T3 queued #1");
    await journaledAs(world, "T3", "done", 15_000);
    for (const said of [first, second, third]) {
      await cardWhen(world, said, (c) => / · ai-pc · done · /.test(cardTitle(c)), "every card done");
    }

    const runs = agentRuns(world, "ai-pc");
    expect(runs.map((r) => r.sessionKey)).toEqual([
      "agent:main:clawbridge:task-T1",
      "agent:main:clawbridge:task-T2",
      "agent:main:clawbridge:task-T3",
    ]);
    expect(runs.map((r) => r.message.split("\n").at(-1))).toEqual(["训练模型 A", "训练模型 B", "训练模型 C"]);
    expect(peakOverlap(runs)).toBe(1);
    expect(agentRuns(world, "office-mac")).toEqual([]);
  });

  it("tasks.maxQueued: a task beyond it is refused with a reply, and nothing is made of it", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: slowScript(3, 300) } },
      configure: gpuOnAiPc({ maxQueued: 1 }),
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);

    command(world, world.wang, "/run #gpu 第一个");
    await waitFor(() => agentRuns(world, "ai-pc").length === 1, { what: "T1 running" });
    const second = command(world, world.wang, "/run #gpu 第二个");
    await cardWhen(world, second, (c) => cardTitle(c) === "Task T2 · #gpu · queued (#1)", "T2 queued");
    const third = command(world, world.wang, "/run #gpu 第三个");
    const refusal = await waitFor(() => textReplies(world, third)[0], { what: "the refusal" });
    expect(refusal).toBe("The task queue is full (1 waiting). Try again when some have finished.");
    expect(cardOf(world, third)).toBeUndefined();
    expect(await journaled(world, "T3")).toBeUndefined();

    // The queue drains as before; once there is room a new task is taken again.
    await journaledAs(world, "T2", "done", 15_000);
    expect(agentRuns(world, "ai-pc").map((r) => r.message.split("\n").at(-1))).toEqual(["第一个", "第二个"]);
    const fourth = command(world, world.wang, "/run #gpu 第四个");
    await cardWhen(
      world,
      fourth,
      (c) => cardTitle(c).startsWith("Task T3 · ai-pc · done"),
      "the next task done",
    );
    expect(peakOverlap(agentRuns(world, "ai-pc"))).toBe(1);
  });

  it("tasks.maxQueued holds for a burst of commands arriving together", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: { kind: "stall" } } },
      configure: gpuOnAiPc({ maxQueued: 1 }),
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    command(world, world.wang, "/run #gpu 占着节点");
    await waitFor(() => agentRuns(world, "ai-pc").length === 1, { what: "T1 running" });

    // Three commands at once (a burst from phones): one more fits in the queue, the others are told why.
    const burst = ["/run #gpu 甲", "/run #gpu 乙", "/run #gpu 丙"].map((text) =>
      command(world, world.wang, text),
    );
    const answers = await waitFor(
      () => {
        const each = burst.map((said) => (cardOf(world, said) ? "card" : textReplies(world, said)[0]));
        return each.every(Boolean) ? each : undefined;
      },
      { what: "an answer to each command" },
    );
    expect(answers.filter((a) => a === "card")).toHaveLength(1);
    expect(answers.filter((a) => a !== "card")).toEqual([
      "The task queue is full (1 waiting). Try again when some have finished.",
      "The task queue is full (1 waiting). Try again when some have finished.",
    ]);
    expect((await readTasks(world.stateDir)).map((t) => t.state)).toEqual(["running", "queued"]);
  });

  it("a task for a node that is away waits in the queue and starts by itself when the node is back", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(2, 50) } } });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    // ai-pc goes away: its connections drop and it answers nothing, not even a handshake.
    world.gateways["ai-pc"].stall(true);
    world.gateways["ai-pc"].dropConnections();
    await waitFor(
      async () => {
        const body = (await (await fetch(`${bridge.url}/readyz`)).json()) as {
          parts: Record<string, { detail?: string }>;
        };
        return body.parts["node:ai-pc"]?.detail !== "online";
      },
      { what: "ai-pc no longer online" },
    );

    const said = command(world, world.wang, "/run ai-pc 等它回来");
    await cardWhen(world, said, (c) => cardTitle(c) === "Task T1 · ai-pc · queued (#1)", "T1 queued");
    expect((await journaled(world, "T1"))?.state).toBe("queued");

    world.gateways["ai-pc"].stall(false);
    await journaledAs(world, "T1", "done", 20_000);
    await cardWhen(world, said, (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"), "T1 done");
    expect(agentRuns(world, "ai-pc").map((r) => r.sessionKey)).toEqual(["agent:main:clawbridge:task-T1"]);
  });
});
