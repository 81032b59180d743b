import { defineMessages } from "../core/index.js";

const en = {
  truncated: "… (truncated)",
  truncatedWithPointer: "… (truncated — full output: {pointer})",
  cardActionFailed: "That did not work: {reason}",
  cardActionFailedGeneric: "That did not work; the bridge logged why.",
  webhookRoutesUnavailable: "the Feishu webhook routes exist only in webhook mode, after start()",
  eventInFlight: "the first delivery of this event is still being handled",
  handlerStillRunning: "the handler is still running; Feishu will deliver the event again",
} as const;

export type FeishuMessageKey = keyof typeof en;

const zhCN: Record<FeishuMessageKey, string> = {
  truncated: "…（内容过长，已截断）",
  truncatedWithPointer: "…（内容过长，已截断，完整内容见 {pointer}）",
  cardActionFailed: "操作失败：{reason}",
  cardActionFailedGeneric: "操作失败，原因已记录在桥接日志中。",
  webhookRoutesUnavailable: "飞书 webhook 路由只在 webhook 模式下、start() 之后才有",
  eventInFlight: "这个事件的第一次投递仍在处理中",
  handlerStillRunning: "处理仍在进行；飞书会再次投递这个事件",
};

/** Text the Feishu edge itself puts in front of people (in `feishu.locale`). */
export const feishuMessages = defineMessages("feishu", en, zhCN);
