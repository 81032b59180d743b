import type { Catalog } from "../core/index.js";

const en = {
  truncated: "… (truncated)",
  truncatedWithPointer: "… (truncated — full output: {pointer})",
  cardActionFailed: "That did not work: {reason}",
  cardActionFailedGeneric: "That did not work; the bridge logged why.",
} as const;

export type FeishuMessageKey = keyof typeof en;

const zhCN: Record<FeishuMessageKey, string> = {
  truncated: "…（内容过长，已截断）",
  truncatedWithPointer: "…（内容过长，已截断，完整内容见 {pointer}）",
  cardActionFailed: "操作失败：{reason}",
  cardActionFailedGeneric: "操作失败，原因已记录在桥接日志中。",
};

/** Text the Feishu edge itself puts in front of people (in `feishu.locale`). */
export const feishuMessages: Catalog<FeishuMessageKey> = { en, "zh-CN": zhCN };
