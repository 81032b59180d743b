import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
import {
  agentRuns,
  answersTo,
  answerTo,
  ask,
  cardText,
  cardTitle,
  current,
  openId,
  sayPost,
  tell,
} from "./commands-kit.js";

function inbox(world: BridgeWorld, node: string): Record<string, unknown>[] {
  const file = path.join(world.root, "messages", `to-${node}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const USAGE = {
  en: {
    unknown: "Unknown command /rn. Did you mean /run?",
    unknownNoGuess: "Unknown command /frobnicate.",
    prefix: "Usage: ",
    run: "/run [node|#tag] <prompt> — e.g. /run #gpu retrain the classifier (no prompt: a form)",
    tell: "/tell <node> <text> — e.g. /tell ai-pc how busy is the GPU today?",
    cancel: "/cancel <id> — stop a task, e.g. /cancel T7",
    task: "/task <id> — one task, e.g. /task T7",
    watch: "/watch <node> — follow what a node runs, in one card",
    help: "/help — this list",
    unknownNode: "There is no node “ai-p”. Did you mean ai-pc? Nodes: ai-pc, office-mac, nas-agent",
  },
  "zh-CN": {
    unknown: "未知命令 /rn。你是想用 /run 吗？",
    unknownNoGuess: "未知命令 /frobnicate。",
    prefix: "用法：",
    run: "/run [节点|#标签] <内容> — 例如 /run #gpu 用新数据重新训练分类模型（不写内容则弹出表单）",
    tell: "/tell <节点> <内容> — 例如 /tell ai-pc 今天 GPU 利用率怎么样？",
    cancel: "/cancel <编号> — 取消任务，例如 /cancel T7",
    task: "/task <编号> — 查看一个任务，例如 /task T7",
    watch: "/watch <节点> — 在一张卡片里关注某个节点正在运行的内容",
    help: "/help — 显示本列表",
    unknownNode: "没有名为“ai-p”的节点。你是想用 ai-pc 吗？节点：ai-pc, office-mac, nas-agent",
  },
} as const;

describe("what the bridge makes of a message", () => {
  it("a /run sent as rich text (post) works like text; so do /tell and /nodes", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    const run = sayPost(world, world.wang, "/run ai-pc 从手机发的任务");
    const card = await answerTo(world, run, "interactive");
    expect(card.parentId).toBe(run.messageId);
    await waitFor(() => cardTitle(current(world, card.messageId)).startsWith("Task T1 · ai-pc · done"), {
      what: "the post's task done",
    });
    expect(agentRuns(world, "ai-pc")[0]!.message).toContain("从手机发的任务");
    expect(agentRuns(world, "ai-pc")[0]!.sessionKey).toBe("agent:main:clawbridge:task-T1");

    const said = sayPost(world, world.wang, "/告诉 office-mac 手机上问一句");
    await waitFor(() => agentRuns(world, "office-mac").some((r) => r.message.includes("手机上问一句")), {
      what: "the post's /tell at office-mac",
    });
    await waitFor(() => answersTo(world, said.messageId).some((m) => m.text?.startsWith("[office-mac]")), {
      what: "office-mac's answer in the thread",
    });
    const nodes = await answerTo(world, sayPost(world, world.li, "/nodes"), "interactive");
    expect(cardTitle(nodes)).toMatch(/^Nodes · \d\/3 up$/);
  });

  it.each(["en", "zh-CN"] as const)(
    "%s: an unknown command gets a did-you-mean and the usage; bad arguments get the usage",
    async (locale) => {
      const u = USAGE[locale];
      const world = await bridgeWorld({ locale });
      await startWorldBridge(world);
      const nodes = "ai-pc, office-mac, nas-agent";
      expect(await ask(world, world.wang, "/rn 画一只猫")).toBe(`${u.unknown}\n${u.prefix}${u.run}`);
      // A full-width slash and capitals (a Chinese keyboard): the word is echoed as typed.
      expect(await ask(world, world.wang, "／RN 画一只猫")).toBe(
        `${u.unknown.replace("/rn", "/RN")}\n${u.prefix}${u.run}`,
      );
      expect(await ask(world, world.wang, "/frobnicate")).toBe(`${u.unknownNoGuess}\n${u.prefix}${u.help}`);
      expect(await ask(world, world.wang, "/tell ai-pc")).toBe(`${u.prefix}${u.tell}\n${nodes}`);
      expect(await ask(world, world.wang, "/告诉")).toBe(`${u.prefix}${u.tell}\n${nodes}`);
      expect(await ask(world, world.wang, "/tell ai-p 在吗")).toBe(u.unknownNode);
      expect(await ask(world, world.wang, "/cancel")).toBe(`${u.prefix}${u.cancel}`);
      expect(await ask(world, world.wang, "/取消")).toBe(`${u.prefix}${u.cancel}`);
      expect(await ask(world, world.wang, "/task")).toBe(`${u.prefix}${u.task}`);
      expect(await ask(world, world.wang, "/watch")).toBe(`${u.prefix}${u.watch}\n${nodes}`);
      // None of it reached a node.
      expect(agentRuns(world, "ai-pc")).toEqual([]);
      expect(agentRuns(world, "office-mac")).toEqual([]);
    },
  );

  it("/run picks by #tag or display name; an unknown tag is answered; @bridge @<node without a bot> is /tell", async () => {
    const world = await bridgeWorld({
      configure: (config) => {
        config.nodes[0]!.tags = ["gpu"];
      },
    });
    await startWorldBridge(world);
    const byTag = await answerTo(world, tell(world, world.wang, "/run #gpu 重新训练分类模型"), "interactive");
    await waitFor(() => cardTitle(current(world, byTag.messageId)).startsWith("Task T1 · ai-pc · done"));
    expect(cardText(current(world, byTag.messageId).content)).toContain("Target: #gpu → ai-pc");
    const byName = await answerTo(world, tell(world, world.wang, "/run AI电脑 画一只猫"), "interactive");
    await waitFor(() => cardTitle(current(world, byName.messageId)).startsWith("Task T2 · ai-pc · done"));
    expect(agentRuns(world, "ai-pc").filter((r) => r.message.endsWith("\n\n画一只猫"))).toHaveLength(1);
    expect(await ask(world, world.wang, "/run #gpx 画一只猫")).toBe(
      "No node has the tag #gpx. Did you mean #gpu? Tags: #gpu",
    );

    tell(world, world.wang, "@nas-agent 你那边的备份做完了吗？");
    const line = await waitFor(
      () => inbox(world, "nas-agent").find((e) => String(e.content).includes("你那边的备份做完了吗？")),
      { what: "the message in nas-agent's inbox" },
    );
    expect(line).toMatchObject({ to: "nas-agent", from: `user:${openId(world, world.wang)}` });
  });

  it("a message that does not mention the bridge gets no answer, and the log says why", async () => {
    const world = await bridgeWorld();
    const { sink } = await startWorldBridge(world);
    const quiet = world.emu.say(world.emu.defaultChat, world.wang, "/run ai-pc 没有 @ 机器人");
    await waitFor(
      () =>
        sink
          .records()
          .some(
            (r) =>
              r.level === 20 &&
              r.messageId === quiet.messageId &&
              r.reason === "not addressed to the bridge" &&
              r.msg === "message ignored",
          ),
      { what: "the debug line saying why the message was ignored" },
    );
    // A later message that does mention the bridge is answered: the quiet one had its turn.
    expect(await ask(world, world.wang, "/whoami")).toContain("Your open_id:");
    expect(answersTo(world, quiet.messageId)).toEqual([]);
    expect(agentRuns(world, "ai-pc")).toEqual([]);
  });
});
