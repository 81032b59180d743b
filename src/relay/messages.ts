import type { Catalog } from "../core/index.js";

const en = {
  stoppedHops: "Stopped the automatic conversation {pair} (more than {limit} hops)",
  pausedBudget:
    "Paused the automatic conversation {pair}: more than {limit} forwards in a minute; resumes in {seconds} s",

  audit: "[{from} → {to}] {content}",
  answer: "[{node}] {text}",
  tellUsage: "Usage: /tell <node> <text>. Nodes: {nodes}",
  tellUnknownNode: "There is no node “{name}”{suggestion}. Nodes: {nodes}",
  didYouMean: " — did you mean {name}?",
  tellNobodyAllowed:
    "Nobody may use /tell yet: access.dispatchers is empty. An admin adds open_ids there (/whoami shows yours) and reloads the bridge.",
  tellNotAllowed:
    "You may not send to nodes. Ask an admin ({admins}) to add your open_id {openId} to access.dispatchers.",
  noAdmins: "whoever runs the bridge",
  mailboxOnly:
    "{node} reads its mailbox: the message is in messages/to-{node}.jsonl and waits for its agent.",
  outboxFull:
    "{node} is offline and {count} messages are already waiting for it; this one was not queued: {content}",
} as const;

export type RelayMessageKey = keyof typeof en;

const zhCN: Record<RelayMessageKey, string> = {
  stoppedHops: "已停止 {pair} 的自动对话（超过 {limit} 跳）",
  pausedBudget: "已暂停 {pair} 的自动对话：1 分钟内转发超过 {limit} 次，{seconds} 秒后恢复",

  audit: "[{from} → {to}] {content}",
  answer: "[{node}] {text}",
  tellUsage: "用法：/tell <节点> <内容>。节点：{nodes}",
  tellUnknownNode: "没有名为“{name}”的节点{suggestion}。节点：{nodes}",
  didYouMean: "，你是想用 {name} 吗？",
  tellNobodyAllowed:
    "目前还没有人可以使用 /tell：access.dispatchers 为空。请管理员把 open_id 加入其中（/whoami 可查看你的 open_id）并重新加载桥接。",
  tellNotAllowed:
    "你没有向节点发送消息的权限。请管理员（{admins}）把你的 open_id {openId} 加入 access.dispatchers。",
  noAdmins: "运行桥接的人",
  mailboxOnly: "{node} 通过邮箱收信：消息已写入 messages/to-{node}.jsonl，等待其智能体读取。",
  outboxFull: "{node} 离线，已有 {count} 条消息在等待；这条未能排队：{content}",
};

/** What the relay says in the group: audit lines, answers, refusals, loop stops (in `feishu.locale`). */
export const relayMessages: Catalog<RelayMessageKey> = { en, "zh-CN": zhCN };
