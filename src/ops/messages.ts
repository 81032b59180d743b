import { defineMessages } from "../core/index.js";

const en = {
  sharedFolderDown:
    "⚠ clawbridge cannot use the shared folder {root} ({reason}). Messages for mailbox nodes wait in the bridge's outbox and inbox lines wait in their files; nothing is lost.",
  sharedFolderBack:
    "✓ The shared folder works again (it failed for {duration}); what waited is being delivered.",
  stateDirDown:
    "⚠ clawbridge cannot write its state folder {dir} ({reason}), so it cannot record new work safely: inbox lines wait in their files until it can. Free space or fix the folder.",
  stateDirBack: "✓ The state folder can be written again (it failed for {duration}).",
  feishuIntakeDown:
    "⚠ clawbridge does not receive Feishu events ({reason}); commands and @mentions are not seen until it does.",
  feishuIntakeBack: "✓ Feishu events arrive again (they stopped for {duration}).",
  gatewayDown:
    "⚠ {node} is offline ({reason}). Messages and tasks for it wait in its outbox and go out when it is back.",
  gatewayBack: "✓ {node} is back online (it was gone for {duration}).",
  redisDown:
    "⚠ This clawbridge replica cannot reach Redis ({reason}): it takes no new work and its roles pass to the other replicas. Messages already taken wait in Redis.",
  redisBack: "✓ Redis answers again (it was unreachable for {duration}).",
  checkTimedOut: "no answer within {ms} ms",
  seconds: "{n} s",
  minutes: "{n} min",
} as const;

export type OpsMessageKey = keyof typeof en;

const zhCN: Record<OpsMessageKey, string> = {
  sharedFolderDown:
    "⚠ clawbridge 无法使用共享文件夹 {root}（{reason}）。发给邮箱节点的消息留在桥的发件队列里，收件箱里的行留在文件里，不会丢失。",
  sharedFolderBack: "✓ 共享文件夹恢复正常（故障持续了 {duration}），积压的消息正在投递。",
  stateDirDown:
    "⚠ clawbridge 无法写入状态目录 {dir}（{reason}），无法安全地记录新的工作：收件箱里的行会留在文件里等它恢复。请释放磁盘空间或修复该目录。",
  stateDirBack: "✓ 状态目录恢复可写（故障持续了 {duration}）。",
  feishuIntakeDown: "⚠ clawbridge 收不到飞书事件（{reason}），恢复之前看不到命令和 @提及。",
  feishuIntakeBack: "✓ 飞书事件恢复接收（中断了 {duration}）。",
  gatewayDown: "⚠ {node} 已离线（{reason}）。发给它的消息和任务留在它的发件队列里，上线后自动发出。",
  gatewayBack: "✓ {node} 已重新上线（离线了 {duration}）。",
  redisDown:
    "⚠ 这个 clawbridge 副本无法连接 Redis（{reason}）：它不再接收新工作，其角色会转给其他副本。已接收的消息保存在 Redis 中。",
  redisBack: "✓ Redis 恢复响应（中断了 {duration}）。",
  checkTimedOut: "{ms} 毫秒内没有响应",
  seconds: "{n} 秒",
  minutes: "{n} 分钟",
};

/** What the ops layer says to people: health notices in the group. */
export const opsMessages = defineMessages("ops", en, zhCN);
