import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  answerTo,
  answersTo,
  ask,
  bothGatewaysOnline,
  cardText,
  cardTitle,
  current,
  nasAgentAlive,
  openId,
  tell,
} from "./commands-kit.js";

/** What each command answers, word for word where it matters, in each locale. */
const WORDS = {
  en: {
    helpTitle: "clawbridge commands (mention me first):",
    usages: [
      "/run [node|#tag] <prompt> — e.g. /run #gpu retrain the classifier (no prompt: a form)",
      "/tell <node> <text> — e.g. /tell ai-pc how busy is the GPU today?",
      "/nodes — every node, its state and load",
      "/tasks — the latest tasks",
      "/task <id> — one task, e.g. /task T7",
      "/cancel <id> — stop a task, e.g. /cancel T7",
      "/watch <node> — follow what a node runs, in one card",
      "/unwatch — stop following",
      "/whoami — your open_id, to put into access",
      "/help — this list",
    ],
    helpNodes: "Nodes: ai-pc, office-mac, nas-agent. Chinese aliases work too (/运行, /告诉, /节点 …).",
    whoami: (open: string, union: string) => `Your open_id: ${open}\nunion_id: ${union}\n`,
    nodesTitle: "Nodes · 3/3 up",
    nodeLines: [
      "AI电脑** ai-pc · <font color='green'>online</font>",
      "office-mac** · <font color='green'>online</font>",
      "nas-agent** · <font color='green'>mailbox only</font>",
    ],
    dispatchButton: "Dispatch a task",
    cardDone: (id: string, node: string) => `Task ${id} · ${node} · done`,
    finalDone: (id: string, node: string) => `Task ${id} is done (${node}, `,
    tasksTitle: "Latest tasks:",
    tasksLine: (id: string, node: string, who: string, prompt: string) =>
      `${id} · ${node} · done · ${who} · ${prompt}`,
    taskDetails: (who: string) => `T1 · done\nnode: ai-pc\nasked by: ${who}\n`,
    taskOutput: "output:\nbenchmark 跑完了：42 it/s",
    cancelled: (id: string) => `${id} is cancelled.`,
    cardCancelled: (id: string) => `Task ${id} · ai-pc · cancelled`,
    watching: (node: string) => `Watching ${node}`,
    watchStopped: (node: string) => `Stopped watching ${node}`,
    watchReplaced: "Now watching office-mac here (instead of ai-pc).",
    unwatched: "Stopped watching office-mac.",
    unwatchNone: "Nothing is watched in this chat.",
  },
  "zh-CN": {
    helpTitle: "clawbridge 命令（先 @ 我）：",
    usages: [
      "/run [节点|#标签] <内容> — 例如 /run #gpu 用新数据重新训练分类模型（不写内容则弹出表单）",
      "/tell <节点> <内容> — 例如 /tell ai-pc 今天 GPU 利用率怎么样？",
      "/nodes — 所有节点的状态和负载",
      "/tasks — 最近的任务",
      "/task <编号> — 查看一个任务，例如 /task T7",
      "/cancel <编号> — 取消任务，例如 /cancel T7",
      "/watch <节点> — 在一张卡片里关注某个节点正在运行的内容",
      "/unwatch — 停止关注",
      "/whoami — 查看你的 open_id，用于配置 access",
      "/help — 显示本列表",
    ],
    helpNodes: "节点：ai-pc, office-mac, nas-agent。也可以用中文命令（/运行、/告诉、/节点 …）。",
    whoami: (open: string, union: string) => `你的 open_id：${open}\nunion_id：${union}\n`,
    nodesTitle: "节点 · 3/3 可用",
    nodeLines: [
      "AI电脑** ai-pc · <font color='green'>在线</font>",
      "office-mac** · <font color='green'>在线</font>",
      "nas-agent** · <font color='green'>仅邮箱</font>",
    ],
    dispatchButton: "派发任务",
    cardDone: (id: string, node: string) => `任务 ${id} · ${node} · 已完成`,
    finalDone: (id: string, node: string) => `任务 ${id} 已完成（${node}，`,
    tasksTitle: "最近的任务：",
    tasksLine: (id: string, node: string, who: string, prompt: string) =>
      `${id} · ${node} · 已完成 · ${who} · ${prompt}`,
    taskDetails: (who: string) => `T1 · 已完成\n节点：ai-pc\n发起人：${who}\n`,
    taskOutput: "输出：\nbenchmark 跑完了：42 it/s",
    cancelled: (id: string) => `${id} 已取消。`,
    cardCancelled: (id: string) => `任务 ${id} · ai-pc · 已取消`,
    watching: (node: string) => `关注 ${node}`,
    watchStopped: (node: string) => `已停止关注 ${node}`,
    watchReplaced: "本群现在关注 office-mac（不再关注 ai-pc）。",
    unwatched: "已停止关注 office-mac。",
    unwatchNone: "本群没有正在关注的节点。",
  },
} as const;

describe.each(["en", "zh-CN"] as const)("chat commands in %s", (locale) => {
  const w = WORDS[locale];

  it("/help /帮助, /whoami /我是谁, /nodes /节点 answer in the chat's language; a bare mention gets the start of /help", async () => {
    const world = await bridgeWorld({ locale });
    nasAgentAlive(world);
    const { bridge } = await startWorldBridge(world);
    const help = [w.helpTitle, ...w.usages, "", w.helpNodes].join("\n");
    for (const command of ["/help", "/帮助"]) expect(await ask(world, world.li, command)).toBe(help);
    const brief = await ask(world, world.li, "");
    expect(brief).toBe([w.helpTitle, ...w.usages.slice(0, 3), "/help …"].join("\n"));

    for (const command of ["/whoami", "/我是谁"]) {
      const text = await ask(world, world.wang, command);
      expect(text.startsWith(w.whoami(openId(world, world.wang), world.wang.unionId))).toBe(true);
    }

    await bothGatewaysOnline(bridge);
    for (const command of ["/nodes", "/节点"]) {
      const card = await answerTo(world, tell(world, world.wang, command), "interactive");
      expect(cardTitle(card)).toBe(w.nodesTitle);
      const text = cardText(card.content);
      for (const line of w.nodeLines) expect(text).toContain(line);
      expect(text).toContain(w.dispatchButton);
    }
  });

  it("/run /运行 and /tell /告诉 reach the nodes; /tasks /任务 and /task list and show them", async () => {
    const world = await bridgeWorld({ locale });
    await startWorldBridge(world);
    const wang = openId(world, world.wang);
    const chat = world.emu.defaultChat;
    const runs = [
      {
        command: "/run ai-pc 跑一下 benchmark",
        id: "T1",
        node: "ai-pc" as const,
        prompt: "跑一下 benchmark",
      },
      { command: "/运行 office-mac 整理日志", id: "T2", node: "office-mac" as const, prompt: "整理日志" },
    ];
    for (const run of runs) {
      const said = tell(world, world.wang, run.command);
      const card = await answerTo(world, said, "interactive");
      await waitFor(
        () => cardTitle(current(world, card.messageId)).startsWith(w.cardDone(run.id, run.node)),
        {
          what: `${run.id}'s card turning done`,
        },
      );
      const final = await waitFor(() => answersTo(world, said.messageId).find((m) => m.msgType === "text"));
      expect(final.text).toContain(w.finalDone(run.id, run.node));
      expect(agentRuns(world, run.node).some((r) => r.message.includes(run.prompt))).toBe(true);
    }

    for (const [command, node, text] of [
      ["/tell ai-pc 今天 GPU 利用率怎么样？", "ai-pc", "今天 GPU 利用率怎么样？"],
      ["/告诉 office-mac 在吗？", "office-mac", "在吗？"],
    ] as const) {
      const said = tell(world, world.wang, command);
      const run = await waitFor(() => agentRuns(world, node).find((r) => r.sessionKey.endsWith(chat)));
      expect(run.sessionKey).toBe(`agent:main:clawbridge:${chat}`);
      expect(run.message).toContain(text);
      const answer = await waitFor(() =>
        answersTo(world, said.messageId).find((m) => m.text?.startsWith(`[${node}]`)),
      );
      expect(answer.msgType).toBe("text");
    }

    for (const command of ["/tasks", "/任务"]) {
      const text = await ask(world, world.li, command);
      expect(text.split("\n")).toEqual([
        w.tasksTitle,
        w.tasksLine("T2", "office-mac", wang, "整理日志"),
        w.tasksLine("T1", "ai-pc", wang, "跑一下 benchmark"),
      ]);
    }
    const details = await ask(world, world.li, "/task t1");
    expect(details.startsWith(w.taskDetails(wang))).toBe(true);
    expect(details).toContain(w.taskOutput);
  });

  it("/cancel and /取消 stop a running task: the run is aborted at the gateway, the card says cancelled", async () => {
    const world = await bridgeWorld({ locale, gateways: { "ai-pc": { script: { kind: "stall" } } } });
    await startWorldBridge(world);
    for (const [index, cancel] of ["/cancel", "/取消"].entries()) {
      const id = `T${index + 1}`;
      const said = tell(world, world.wang, `/run ai-pc 长任务 ${id}`);
      const card = await answerTo(world, said, "interactive");
      const run = await waitFor(() =>
        agentRuns(world, "ai-pc").find((r) => r.message.includes(`长任务 ${id}`) && r.status === "running"),
      );
      expect(await ask(world, world.wang, `${cancel} ${id}`)).toBe(w.cancelled(id));
      await waitFor(
        () => world.gateways["ai-pc"].runs().find((r) => r.runId === run.runId)?.status === "aborted",
        {
          what: `${id}'s run aborted at ai-pc`,
        },
      );
      await waitFor(() => cardTitle(current(world, card.messageId)).startsWith(w.cardCancelled(id)), {
        what: `${id}'s card saying cancelled`,
      });
    }
  });

  it("/watch /关注 show one card per chat; /unwatch /取消关注 stop it", async () => {
    const world = await bridgeWorld({ locale });
    await startWorldBridge(world);
    const first = await answerTo(world, tell(world, world.li, "/watch ai-pc"), "interactive");
    expect(cardTitle(first)).toBe(w.watching("ai-pc"));
    const again = tell(world, world.li, "/关注 office-mac");
    const second = await answerTo(world, again, "interactive");
    expect(cardTitle(second)).toBe(w.watching("office-mac"));
    expect((await answerTo(world, again, "text")).text).toBe(w.watchReplaced);
    await waitFor(() => cardTitle(current(world, first.messageId)) === w.watchStopped("ai-pc"), {
      what: "the replaced watch card saying stopped",
    });
    expect(await ask(world, world.li, "/unwatch")).toBe(w.unwatched);
    await waitFor(() => cardTitle(current(world, second.messageId)) === w.watchStopped("office-mac"), {
      what: "the watch card saying stopped",
    });
    expect(await ask(world, world.li, "/取消关注")).toBe(w.unwatchNone);
  });
});
