import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  buttonValues,
  cardOf,
  cardText,
  cardTitle,
  cardWhen,
  command,
  finalMessage,
  finalOf,
  inbox,
  journaled,
  journaledAs,
  nodesOnline,
  openId,
  repliesTo,
  requests,
  slowScript,
} from "./lifecycle-kit.js";

// SCENARIOS.md §1 "A task from a phone", end to end: the Feishu emulator, a fake OpenClaw
// gateway and the shared folder, with the real bridge in between.

const PEOPLES_BOARD = [
  "# 共享任务 / shared tasks",
  "",
  "- [ ] 小李: 换 NAS 的硬盘",
  "",
  "<!-- clawbridge:tasks:begin -->",
  "| stale | row |",
  "<!-- clawbridge:tasks:end -->",
  "",
  "Notes people keep below the block stay too.",
  "",
].join("\n");

describe("task lifecycle: /run on a gateway node", () => {
  it("runs in the task's session, streams into a live card that ends done, @mentions the requester, leaves the folder's record", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: slowScript(3, 400) } } });
    const board = path.join(world.root, "tasks", "shared-tasks.md");
    mkdirSync(path.dirname(board), { recursive: true });
    writeFileSync(board, PEOPLES_BOARD);
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);
    const wang = openId(world, world.wang);

    const said = command(world, world.wang, "/run ai-pc 跑一下 benchmark");
    // The gateway gets one `agent` request in the task's own session, keyed by the task envelope.
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "ai-pc's agent run" });
    expect(run.sessionKey).toBe("agent:main:clawbridge:task-T1");
    expect(run.message).toContain("跑一下 benchmark");
    const t1 = await waitFor(() => journaled(world, "T1"), { what: "T1 in the journal" });
    expect(run.idempotencyKey).toBe(t1.envelopeId);
    const [agentRequest] = requests(world, "ai-pc", "agent");
    expect(agentRequest?.params).toMatchObject({
      sessionKey: "agent:main:clawbridge:task-T1",
      idempotencyKey: t1.envelopeId,
    });

    // The card replies to the command, is live (update_multi) and is patched while running,
    // with the output streamed so far …
    const card = await cardWhen(world, said, (c) => cardTitle(c).startsWith("Task T1 · ai-pc"), "T1's card");
    expect(card.updateMulti).toBe(true);
    await cardWhen(world, said, (c) => cardTitle(c).startsWith("Task T1 · ai-pc · done"), "the done card");
    const done = cardOf(world, said)!;
    const streamed = done.patches.find((p) => {
      const text = cardText(p.content);
      return cardTitle(p).includes("· running ·") && text.includes("step 1") && !text.includes("all done");
    });
    expect(streamed, "a patch showing the output while it ran").toBeDefined();
    // … and ends in the done state with the answer and Retry instead of Cancel.
    expect(cardText(done.content)).toContain("all done");
    expect(buttonValues(done.content)).toEqual([{ cb: "task.retry", task: "T1" }]);
    expect(repliesTo(world, said.messageId).filter((m) => m.msgType === "interactive")).toHaveLength(1);

    // The final message @mentions the requester and says done.
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(
      new RegExp(`^<at user_id="${wang}">.*</at> Task T1 is done \\(ai-pc, \\d+ s\\)$`),
    );
    expect(final.mentions).toHaveLength(1);

    // The folder's record: the task envelope in ai-pc's inbox, the result in the bridge's own.
    expect(inbox(world, "ai-pc")).toEqual([
      expect.objectContaining({
        id: t1.envelopeId,
        from: `user:${wang}`,
        to: "ai-pc",
        type: "task",
        taskId: "T1",
        content: "跑一下 benchmark",
        delivered: "gateway",
      }),
    ]);
    await waitFor(() => inbox(world, "clawbridge").length > 0, { what: "the result line" });
    expect(inbox(world, "clawbridge")).toEqual([
      expect.objectContaining({
        from: "ai-pc",
        to: "clawbridge",
        type: "result",
        replyTo: t1.envelopeId,
        taskId: "T1",
        content: "step 1\nstep 2\nall done",
      }),
    ]);
    expect(await journaled(world, "T1")).toMatchObject({ state: "done", node: "ai-pc", via: "gateway" });

    // The task board: T1 in the clawbridge block; what people wrote outside it is kept.
    const text = await waitFor(
      () => {
        const now = readFileSync(board, "utf8");
        return /^\| T1 \| ai-pc \| .* \| done \|/m.test(now) ? now : undefined;
      },
      { what: "T1 done on the task board" },
    );
    expect(
      text.startsWith(
        "# 共享任务 / shared tasks\n\n- [ ] 小李: 换 NAS 的硬盘\n\n<!-- clawbridge:tasks:begin -->",
      ),
    ).toBe(true);
    expect(
      text.endsWith("<!-- clawbridge:tasks:end -->\n\nNotes people keep below the block stay too.\n"),
    ).toBe(true);
    expect(text).not.toContain("| stale | row |");
    expect(text).toContain("跑一下 benchmark");
    expect(agentRuns(world, "ai-pc")).toHaveLength(1);
  });

  it("a task over tasks.timeoutMs ends timed out with the reason on its card and final message, and frees the slot", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: { kind: "stall" } } },
      configure: (config) => {
        config.tasks = { timeoutMs: 1_000 };
      },
    });
    const { bridge } = await startWorldBridge(world);
    await nodesOnline(bridge);

    const said = command(world, world.wang, "/run ai-pc 一个永远跑不完的任务");
    const run = await waitFor(() => agentRuns(world, "ai-pc")[0], { what: "the stalled run" });
    const t1 = await journaledAs(world, "T1", "timeout");
    expect(t1.reason).toBe("it did not finish within 1 s (tasks.timeoutMs)");
    // The run is stopped at the gateway.
    await waitFor(() => requests(world, "ai-pc", "chat.abort").length > 0, { what: "chat.abort" });
    expect(requests(world, "ai-pc", "chat.abort")[0]?.params).toMatchObject({
      sessionKey: "agent:main:clawbridge:task-T1",
      runId: run.runId,
    });
    await waitFor(() => agentRuns(world, "ai-pc")[0]?.status === "aborted", { what: "the run aborted" });

    const card = await cardWhen(
      world,
      said,
      (c) => cardTitle(c).includes("· timed out"),
      "the timed-out card",
    );
    expect(cardTitle(card)).toMatch(/^Task T1 · ai-pc · timed out · \d+ s$/);
    expect(cardText(card.content)).toContain("Reason: it did not finish within 1 s (tasks.timeoutMs)");
    expect(buttonValues(card.content)).toEqual([{ cb: "task.retry", task: "T1" }]);
    const final = await finalMessage(world, said);
    expect(final.text).toMatch(
      /<\/at> Task T1 timed out \(ai-pc, \d+ s\): it did not finish within 1 s \(tasks\.timeoutMs\)$/,
    );
    // A task that timed out tells the bridge's inbox too (the folder is the record).
    await waitFor(() => inbox(world, "clawbridge").some((e) => e.taskId === "T1"), {
      what: "T1's result line",
    });
    expect(inbox(world, "clawbridge").find((e) => e.taskId === "T1")?.content).toMatch(/^\[timeout\] /);

    // ai-pc has one slot (maxConcurrent 1): the next task gets it.
    world.gateways["ai-pc"].setScript({ kind: "text", text: "quick", chunks: 1, delayMs: 1 });
    const next = command(world, world.wang, "/run ai-pc 快的");
    await journaledAs(world, "T2", "done");
    await cardWhen(world, next, (c) => cardTitle(c).startsWith("Task T2 · ai-pc · done"), "T2 done");
    expect(finalOf(world, said)?.messageId).toBe(final.messageId);
  });
});
