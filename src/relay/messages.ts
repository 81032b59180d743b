import type { Catalog } from "../core/index.js";

const en = {
  stoppedHops: "Stopped the automatic conversation {pair} (more than {limit} hops)",
  pausedBudget:
    "Paused the automatic conversation {pair}: more than {limit} forwards in a minute; resumes in {seconds} s",
} as const;

export type RelayMessageKey = keyof typeof en;

const zhCN: Record<RelayMessageKey, string> = {
  stoppedHops: "已停止 {pair} 的自动对话（超过 {limit} 跳）",
  pausedBudget: "已暂停 {pair} 的自动对话：1 分钟内转发超过 {limit} 次，{seconds} 秒后恢复",
};

/** What the relay's loop brake says in the group (in `feishu.locale`). */
export const relayMessages: Catalog<RelayMessageKey> = { en, "zh-CN": zhCN };
