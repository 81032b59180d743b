import { defineMessages } from "../core/index.js";

/**
 * What the sandbox's people, bots and scripted agents say. The answers are deliberately
 * different per node (content, speed, style) so that a visitor sees which node did what.
 */
const en = {
  visitor: "Visitor",
  aiPcBot: "AI-PC bot",
  officeBot: "Office bot",
  aiPcName: "AI PC",
  officeName: "Office Mac",
  nasName: "NAS agent",
  aiPcCat: "Done 🐱 (ai-pc · GPU, 0.4 s)\n /\\_/\\\n( o.o )\n > ^ <",
  aiPcGpu: "GPU at 12%, 3.1 of 24 GB VRAM in use: idle, ready for work.",
  aiPcBenchmark: "Benchmark finished: 42 it/s, 8% faster than last time.",
  aiPcDefault: "ai-pc got “{head}” — done on the GPU in 0.4 s.",
  officeDefault: "office-mac read “{head}” — it is in this week's report draft (saved in Pages).",
  officeThanks: "Thanks, {node} — noted in the report.",
  officeAsks: "can you check this: {question}",
  nasDefault: "nas-agent archived “{head}” → /volume1/archive/ (1.2 TB free on the share).",
  notDemoDir:
    "{dir} is not empty and was not made by `clawbridge demo`: the sandbox empties its folder at every start",
  notDemoDirFix: "pass --state with an empty or new folder (the default is ./.clawbridge/demo)",
  markerText:
    "This folder belongs to `clawbridge demo`: it is emptied at every start. Delete it whenever you like.\n",
} as const;

export type DemoMessageKey = keyof typeof en;

const zhCN: Record<DemoMessageKey, string> = {
  visitor: "访客",
  aiPcBot: "AI-PC 助手",
  officeBot: "Office 助手",
  aiPcName: "AI电脑",
  officeName: "办公室 Mac",
  nasName: "NAS 智能体",
  aiPcCat: "画好了 🐱（ai-pc · GPU，用时 0.4 秒）\n /\\_/\\\n( o.o )\n > ^ <",
  aiPcGpu: "GPU 利用率 12%，显存 3.1/24 GB：空闲，随时可以接活。",
  aiPcBenchmark: "benchmark 跑完了：42 it/s，比上次快 8%。",
  aiPcDefault: "ai-pc 收到「{head}」——已在 GPU 上处理完毕，用时 0.4 秒。",
  officeDefault: "office-mac 看过了「{head}」——已整理进本周周报草稿（Pages 文档已保存）。",
  officeThanks: "谢谢 {node}，已记进周报。",
  officeAsks: "帮忙看一下：{question}",
  nasDefault: "nas-agent 已归档「{head}」→ /volume1/archive/（共享盘剩余 1.2 TB）。",
  notDemoDir: "{dir} 不是空文件夹，也不是 `clawbridge demo` 创建的：沙盒每次启动都会清空它的文件夹",
  notDemoDirFix: "用 --state 指定一个空的或新的文件夹（默认是 ./.clawbridge/demo）",
  markerText: "此文件夹属于 `clawbridge demo`：每次启动都会被清空，可以随时删除。\n",
};

export const demoMessages = defineMessages("demo", en, zhCN);
