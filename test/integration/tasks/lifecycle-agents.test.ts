import { rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isoWithOffset } from "../../../src/core/index.js";
import { readTasks } from "../../../src/tasks/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import { agentRuns, appendLine, inbox, journaledAs, nodesOnline, type Line } from "./lifecycle-kit.js";

// Agents dispatch through the pool too (ARCHITECTURE.md "One message model", `target`): a
// `task` line in the bridge's inbox runs like /run, and the result goes back to the sender.

function taskLine(from: string, target: string, content: string, id: string): Line {
  return { from, to: "clawbridge", type: "task", target, content, timestamp: isoWithOffset(Date.now()), id };
}

/** Waits until `node`'s inbox has a `result` answering the line `id`. */
function resultFor(world: BridgeWorld, node: string, id: string) {
  return waitFor(() => inbox(world, node).find((e) => e.type === "result" && e.replyTo === id), {
    what: `the result for ${id} in to-${node}.jsonl`,
  });
}

describe("task lifecycle: tasks from agents", () => {
  it("office-mac's task line for #gpu runs on ai-pc; the result reaches office-mac's session and inbox; read again it is the same task", async () => {
    const world = await bridgeWorld({
      configure: (config) => Object.assign(config.nodes[0]!, { tags: ["gpu"] }),
    });
    const first = await startWorldBridge(world);
    await nodesOnline(first.bridge);

    const line = taskLine("office-mac", "#gpu", "帮我跑一下 benchmark", "office-mac-task-0001");
    appendLine(world, "clawbridge", line);
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "the task's run on ai-pc" });
    expect(run.sessionKey).toBe("agent:main:clawbridge:task-T1");
    expect(run.message).toBe("[clawbridge] task T1 from office-mac:\n\n帮我跑一下 benchmark");
    const t1 = await journaledAs(world, "T1", "done");
    expect(t1).toMatchObject({
      requestedBy: { kind: "agent", node: "office-mac" },
      sourceEnvelopeId: line.id,
      target: "#gpu",
      node: "ai-pc",
    });
    expect(t1.place).toBeUndefined();
    expect(inbox(world, "ai-pc")).toEqual([
      expect.objectContaining({ id: t1.envelopeId, from: "office-mac", type: "task", taskId: "T1" }),
    ]);

    // The result goes into office-mac's session for ai-pc's traffic …
    const back = await waitFor(() => agentRuns(world, "office-mac")[0], {
      what: "the result in office-mac's session",
    });
    expect(back.sessionKey).toBe("agent:main:clawbridge:from-ai-pc");
    expect(back.message).toContain("benchmark 跑完了：42 it/s");
    // … and is mirrored into its inbox, answering the line it asked with.
    const result = await resultFor(world, "office-mac", line.id as string);
    expect(result).toMatchObject({
      from: "ai-pc",
      to: "office-mac",
      taskId: "T1",
      content: "benchmark 跑完了：42 it/s",
      source: "clawbridge",
      delivered: "gateway",
    });

    // An agent that writes its line twice gets one task.
    appendLine(world, "clawbridge", line);
    // `clawbridge state reset` (cursors and outboxes forgotten, the task journal kept) and a
    // start with --replay read every inbox line once more, the task line included.
    expect(await first.bridge.stop(5_000)).toBe(true);
    rmSync(path.join(world.stateDir, "mailbox"), { recursive: true, force: true });
    rmSync(path.join(world.stateDir, "outbox"), { recursive: true, force: true });
    const second = await startWorldBridge(world, { replay: true });
    await nodesOnline(second.bridge);
    // A marker task after the replayed lines: once it has run, the replay has been read.
    const marker = taskLine("office-mac", "ai-pc", "marker", "office-mac-task-0002");
    appendLine(world, "clawbridge", marker);
    await journaledAs(world, "T2", "done");
    const tasks = await readTasks(world.stateDir);
    expect(tasks.map((t) => [t.id, t.sourceEnvelopeId])).toEqual([
      ["T1", line.id],
      ["T2", marker.id],
    ]);
    expect(agentRuns(world, "ai-pc").map((r) => r.message.split("\n").at(-1))).toEqual([
      "帮我跑一下 benchmark",
      "marker",
    ]);
    expect(inbox(world, "office-mac").filter((e) => e.replyTo === line.id)).toHaveLength(1);
  });

  it("a sender not in access.agents, or a target nobody serves, gets a refusal result in its inbox", async () => {
    const world = await bridgeWorld({
      configure: (config) => {
        Object.assign(config.nodes[0]!, { tags: ["gpu"] });
        config.access.agents = ["office-mac"];
      },
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);

    const refused = taskLine("nas-agent", "#gpu", "帮我训练", "nas-task-1");
    appendLine(world, "clawbridge", refused);
    const refusal = await resultFor(world, "nas-agent", "nas-task-1");
    expect(refusal).toMatchObject({ from: "clawbridge", to: "nas-agent", source: "clawbridge" });
    expect(refusal.content).toBe(
      "nas-agent may not dispatch tasks through the bridge: access.agents does not list it. Whoever runs the bridge can add it.",
    );

    const nowhere = taskLine("office-mac", "#tpu", "没有这种节点", "office-task-1");
    appendLine(world, "clawbridge", nowhere);
    const bad = await resultFor(world, "office-mac", "office-task-1");
    expect(bad).toMatchObject({ from: "clawbridge", to: "office-mac" });
    expect(bad.content).toMatch(/^The task could not be dispatched: No node has the tag #tpu\./);

    // Neither made a task nor a run; the allowed sender's next line is served.
    appendLine(world, "clawbridge", taskLine("office-mac", "#gpu", "这个可以", "office-task-2"));
    const t1 = await journaledAs(world, "T1", "done");
    expect(t1).toMatchObject({
      sourceEnvelopeId: "office-task-2",
      requestedBy: { kind: "agent", node: "office-mac" },
    });
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
  });
});
