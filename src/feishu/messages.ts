import { defineMessages } from "../core/index.js";

const en = {
  truncated: "… (truncated)",
  truncatedWithPointer: "… (truncated — full output: {pointer})",
  cardActionFailed: "That did not work: {reason}",
  cardActionFailedGeneric: "That did not work; the bridge logged why.",
  webhookRoutesUnavailable: "the Feishu webhook routes exist only in webhook mode, after start()",
  eventInFlight: "the first delivery of this event is still being handled",
  handlerStillRunning: "the handler is still running; Feishu will deliver the event again",
  notAnAppId: 'feishu.appId "{appId}" is not a Feishu app id',
  notAnAppIdFix:
    'Copy the App ID ("cli_" and 16 hex characters) from the Feishu developer console → Credentials.',
  longConnectionRefused: "Feishu refused the long connection: {reason}",
  longConnectionRefusedFix:
    "Check feishu.appId and feishu.appSecret, and enable 'Receive events through persistent connection' in the developer console → Events and callbacks.",
  longConnectionSlow: "the long connection did not come up in time",
  undecryptable: "the encrypted webhook body could not be decrypted",
  undecryptableFix:
    "Check that feishu.encryptKey matches the Encrypt Key on the app's Events & Callbacks page.",
  outboundMisuse: "Feishu outbound: {reason}",
  outboundMisuseFix: "Fix the call to the outbound queue (see OutboundSendRequest).",
  queueClosed: "The Feishu outbound queue is closed; the message was not sent",
  queueClosedFix: "Send before shutting down, or give close() a longer drainMs.",
  badUuid: "Feishu message uuid must be 1–{max} characters, got {length}",
  badUuidFix: "Pass a shorter uuid (a ULID fits), or none to have one made.",
  noAnswer: "Feishu {operation}: no answer ({reason})",
  noAnswerFix: "Check that this machine reaches the Feishu Open Platform (feishu.domain).",
  feishuSaid: "Feishu {operation}: {said}",
  credentialsFix:
    "Check feishu.appId and feishu.appSecret against the Feishu developer console → Credentials & Basic Info.",
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
  notAnAppId: "feishu.appId “{appId}” 不是飞书应用的 App ID",
  notAnAppIdFix: "从飞书开发者后台 → 凭证与基础信息 复制 App ID（“cli_” 加 16 位十六进制字符）。",
  longConnectionRefused: "飞书拒绝了长连接：{reason}",
  longConnectionRefusedFix:
    "检查 feishu.appId 和 feishu.appSecret，并在开发者后台 → 事件与回调 中启用“使用长连接接收事件/回调”。",
  longConnectionSlow: "长连接没有按时建立",
  undecryptable: "无法解密加密的 webhook 请求体",
  undecryptableFix: "检查 feishu.encryptKey 是否与应用“事件与回调”页面上的 Encrypt Key 一致。",
  outboundMisuse: "飞书发送队列：{reason}",
  outboundMisuseFix: "修正对发送队列的调用（见 OutboundSendRequest）。",
  queueClosed: "飞书发送队列已关闭；消息没有发出",
  queueClosedFix: "在关闭之前发送，或给 close() 更长的 drainMs。",
  badUuid: "飞书消息 uuid 必须为 1–{max} 个字符，实际为 {length}",
  badUuidFix: "传入更短的 uuid（ULID 即可），或不传，由系统生成。",
  noAnswer: "飞书 {operation}：没有应答（{reason}）",
  noAnswerFix: "检查本机能否访问飞书开放平台（feishu.domain）。",
  feishuSaid: "飞书 {operation}：{said}",
  credentialsFix: "对照飞书开发者后台 → 凭证与基础信息 检查 feishu.appId 和 feishu.appSecret。",
};

/** Text the Feishu edge itself puts in front of people (in `feishu.locale`). */
export const feishuMessages = defineMessages("feishu", en, zhCN);
