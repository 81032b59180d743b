import { describe, expect, it } from "vitest";
import type { Person } from "../../../src/sim/feishu/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  answerTo,
  answersTo,
  ask,
  buttonValues,
  cardText,
  cardTitle,
  current,
  openId,
  press,
  tell,
} from "./commands-kit.js";

/** ai-pc's agent never finishes a prompt containing "长任务"; everything else is answered at once. */
const STALL_LONG = {
  "ai-pc": {
    script: (ctx: { message: string }) =>
      ctx.message.includes("长任务")
        ? ({ kind: "stall" } as const)
        : ({ kind: "text", text: "好了", chunks: 1, delayMs: 1 } as const),
  },
};

async function runningTask(world: BridgeWorld, person: Person, id: string) {
  const said = tell(world, person, `/run ai-pc 长任务 ${id}`);
  const card = await answerTo(world, said, "interactive");
  const run = await waitFor(() =>
    agentRuns(world, "ai-pc").find((r) => r.message.includes(`长任务 ${id}`) && r.status === "running"),
  );
  return { card, run };
}

const refusal = (world: BridgeWorld, action: string) =>
  `You may not ${action}. Ask an admin (whoever runs the bridge) to add your open_id ${openId(world, world.li)} to access.dispatchers.`;

describe("who may do what", () => {
  it("小李 may look but not dispatch: /run, /tell, /cancel are refused saying why; /nodes, /tasks, /whoami, /help work", async () => {
    const world = await bridgeWorld({ gateways: STALL_LONG });
    const { bridge } = await startWorldBridge(world);
    const { run } = await runningTask(world, world.wang, "T1");

    expect(await ask(world, world.li, "/run ai-pc 我也想跑")).toBe(refusal(world, "dispatch tasks"));
    expect(await ask(world, world.li, "/运行 #gpu 我也想跑")).toBe(refusal(world, "dispatch tasks"));
    expect(await ask(world, world.li, "/run")).toBe(refusal(world, "dispatch tasks"));
    expect(await ask(world, world.li, "/tell ai-pc 你好")).toBe(refusal(world, "send to nodes"));
    expect(await ask(world, world.li, "/cancel T1")).toBe(refusal(world, "cancel tasks"));
    expect(await ask(world, world.li, "/取消 T1")).toBe(refusal(world, "cancel tasks"));
    // Nothing reached a node but 小王's one task, which still runs.
    expect(agentRuns(world, "ai-pc").map((r) => r.runId)).toEqual([run.runId]);
    expect(agentRuns(world, "office-mac")).toEqual([]);
    expect(world.gateways["ai-pc"].runs().find((r) => r.runId === run.runId)?.status).toBe("running");
    expect(bridge.tasks.service.get("T1")?.state).toBe("running");

    // Reading is for everyone; the nodes card offers him no Dispatch button.
    const nodes = await answerTo(world, tell(world, world.li, "/nodes"), "interactive");
    expect(cardText(nodes.content)).toContain("ai-pc");
    expect(buttonValues(nodes.content)).toEqual([]);
    expect(await ask(world, world.li, "/tasks")).toContain("T1 · ai-pc · running");
    expect(await ask(world, world.li, "/task T1")).toContain("T1 · running");
    expect(await ask(world, world.li, "/whoami")).toContain(openId(world, world.li));
    expect(await ask(world, world.li, "/help")).toContain("clawbridge commands");
  });

  it("小李's presses on 小王's cards are refused with a toast, even with a forged operator in the value", async () => {
    const world = await bridgeWorld({ gateways: STALL_LONG });
    const { bridge } = await startWorldBridge(world);
    const wang = openId(world, world.wang);
    const denied = (action: string) => ({
      type: "error",
      content: `You may not do that: ${refusal(world, action)}`,
    });

    // T1 finishes (its card offers Retry), T2 runs (its card offers Cancel).
    const done = await answerTo(world, tell(world, world.wang, "/run ai-pc 短的"), "interactive");
    await waitFor(() => cardTitle(current(world, done.messageId)).startsWith("Task T1 · ai-pc · done"));
    const { card: running, run } = await runningTask(world, world.wang, "T2");
    await waitFor(() => buttonValues(current(world, running.messageId).content)[0]?.cb === "task.cancel");
    const cancel = buttonValues(current(world, running.messageId).content)[0]!;
    expect(cancel).toEqual({ cb: "task.cancel", task: "T2" });
    const retry = buttonValues(current(world, done.messageId).content)[0]!;
    expect(retry).toEqual({ cb: "task.retry", task: "T1" });

    expect(await press(world, running.messageId, world.li, cancel)).toEqual(denied("cancel tasks"));
    const forged = { ...cancel, operator: wang, openId: wang, open_id: wang };
    expect(await press(world, running.messageId, world.li, forged)).toEqual(denied("cancel tasks"));
    expect(await press(world, done.messageId, world.li, retry)).toEqual(denied("dispatch tasks"));
    expect(await press(world, done.messageId, world.li, { ...retry, operator: wang })).toEqual(
      denied("dispatch tasks"),
    );

    // The dispatch form and the nodes card's button are 小王's to use, not his.
    const form = await answerTo(world, tell(world, world.wang, "/run"), "interactive");
    const submitted = { target: "ai-pc", prompt: "小李填的表单" };
    expect(await press(world, form.messageId, world.li, {}, submitted)).toEqual(denied("dispatch tasks"));
    const nodes = await answerTo(world, tell(world, world.wang, "/nodes"), "interactive");
    expect(await press(world, nodes.messageId, world.li, { cb: "run.form" })).toEqual(
      denied("dispatch tasks"),
    );

    // Nothing changed: T2 still runs on ai-pc, no task was added, no card was replaced or sent.
    expect(bridge.tasks.service.get("T2")?.state).toBe("running");
    expect(world.gateways["ai-pc"].runs().find((r) => r.runId === run.runId)?.status).toBe("running");
    expect(bridge.tasks.service.list().map((t) => t.id)).toEqual(["T2", "T1"]);
    expect(agentRuns(world, "ai-pc")).toHaveLength(2);
    expect(current(world, running.messageId).patches.filter((p) => p.via === "callback")).toEqual([]);
    expect(current(world, done.messageId).patches.filter((p) => p.via === "callback")).toEqual([]);
    expect(cardTitle(current(world, running.messageId))).toMatch(/^Task T2 · ai-pc · running/);
    expect(answersTo(world, form.messageId)).toEqual([]);
    expect(answersTo(world, nodes.messageId)).toEqual([]);
  });

  it("a dispatcher cannot cancel another's task (by command or button); an admin can", async () => {
    let boss: Person | undefined;
    const world = await bridgeWorld({
      gateways: STALL_LONG,
      configure: (config, { emu, wang, li }) => {
        boss = emu.addPerson({ name: "老板" });
        emu.addMembers(emu.defaultChat, [boss]);
        config.access = {
          dispatchers: [wang.openIdFor(emu.bridge.appId), li.openIdFor(emu.bridge.appId)],
          admins: [boss.openIdFor(emu.bridge.appId)],
        };
      },
    });
    const { bridge } = await startWorldBridge(world);
    const wang = openId(world, world.wang);
    const first = await runningTask(world, world.wang, "T1");
    const notYours = `Only ${wang} or an admin may cancel T1.`;

    expect(await ask(world, world.li, "/cancel T1")).toBe(notYours);
    expect(await press(world, first.card.messageId, world.li, { cb: "task.cancel", task: "T1" })).toEqual({
      type: "error",
      content: notYours,
    });
    expect(bridge.tasks.service.get("T1")?.state).toBe("running");

    // The admin's press cancels it: the answer replaces the card, the run stops at ai-pc.
    expect(await press(world, first.card.messageId, boss!, { cb: "task.cancel", task: "T1" })).toEqual({
      type: "success",
      content: "T1 is cancelled.",
    });
    const replaced = current(world, first.card.messageId).patches.find((p) => p.via === "callback");
    expect(replaced).toBeDefined();
    expect(cardTitle(current(world, first.card.messageId))).toMatch(/^Task T1 · ai-pc · cancelled/);
    await waitFor(
      () => world.gateways["ai-pc"].runs().find((r) => r.runId === first.run.runId)?.status === "aborted",
    );

    // And by command.
    const second = await runningTask(world, world.wang, "T2");
    expect(await ask(world, boss!, "/cancel T2")).toBe("T2 is cancelled.");
    await waitFor(
      () => world.gateways["ai-pc"].runs().find((r) => r.runId === second.run.runId)?.status === "aborted",
    );
    expect(bridge.tasks.service.get("T2")).toMatchObject({
      state: "cancelled",
      cancelledBy: openId(world, boss!),
    });
  });

  it("the dispatch form: from /nodes' button and from /run without a prompt; an empty prompt comes back with an error, a filled one starts a task", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    const nodes = await answerTo(world, tell(world, world.wang, "/nodes"), "interactive");
    expect(buttonValues(nodes.content)).toEqual([{ cb: "run.form" }]);
    expect(await press(world, nodes.messageId, world.wang, { cb: "run.form" })).toBeUndefined();
    const fromButton = await waitFor(() =>
      answersTo(world, nodes.messageId).find((m) => m.msgType === "interactive"),
    );
    expect(cardTitle(fromButton)).toBe("Dispatch a task");

    const form = await answerTo(world, tell(world, world.wang, "/run"), "interactive");
    expect(cardTitle(form)).toBe("Dispatch a task");
    for (const option of ["Any node", "AI电脑 (ai-pc)", "office-mac", "nas-agent"]) {
      expect(cardText(form.content)).toContain(option);
    }
    expect(buttonValues(form.content)).toEqual([{ cb: "run.submit" }]);

    // Nothing to do: the same form comes back, saying what is missing, with the node still chosen.
    expect(await press(world, form.messageId, world.wang, {}, { target: "ai-pc", prompt: "  " })).toEqual({
      type: "warning",
      content: "Write what the task should do.",
    });
    const redrawn = current(world, form.messageId);
    expect(redrawn.patches.map((p) => p.via)).toEqual(["callback"]);
    expect(cardText(redrawn.content)).toContain("Write what the task should do.");
    expect(JSON.stringify(redrawn.content)).toContain('"initial_index":2');
    expect(bridge.tasks.service.list()).toEqual([]);

    const toast = await press(
      world,
      form.messageId,
      world.wang,
      {},
      { target: "ai-pc", prompt: "表单派发的任务" },
    );
    expect(toast?.type).toBe("success");
    expect(toast?.content).toMatch(/^Task T1: (queued|running)$/);
    const run = await waitFor(() =>
      agentRuns(world, "ai-pc").find((r) => r.message.includes("表单派发的任务")),
    );
    expect(run.sessionKey).toBe("agent:main:clawbridge:task-T1");
    // The form comes back emptied, its node still chosen: pressing Dispatch again is not T2.
    const emptied = current(world, form.messageId);
    expect(emptied.patches.map((p) => p.via)).toEqual(["callback", "callback"]);
    expect(JSON.stringify(emptied.content)).not.toContain("表单派发的任务");
    expect(JSON.stringify(emptied.content)).toContain('"initial_index":2');
    // The task's card answers the form, and turns done.
    const card = await waitFor(() =>
      answersTo(world, form.messageId).find((m) => m.msgType === "interactive"),
    );
    await waitFor(() => cardTitle(current(world, card.messageId)).startsWith("Task T1 · ai-pc · done"));
    expect(bridge.tasks.service.get("T1")).toMatchObject({
      target: "ai-pc",
      requestedBy: { kind: "user", openId: openId(world, world.wang) },
    });
  });
});
