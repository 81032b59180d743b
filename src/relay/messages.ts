import { defineMessages } from "../core/index.js";

const en = {
  stoppedHops: "Stopped the automatic conversation {pair} (more than {limit} hops)",
  pausedBudget:
    "Paused the automatic conversation {pair}: more than {limit} forwards in a minute; resumes in {seconds} s",

  audit: "[{from} → {to}] {content}",
  answer: "[{node}] {text}",
  mailboxOnly:
    "{node} reads its mailbox: the message is in messages/to-{node}.jsonl and waits for its agent.",
  outboxFull:
    "{node} is offline and {count} messages are already waiting for it; this one was not queued: {content}",
  outboxFullError: "the outbox for {target} is full ({pending} waiting, at most {capacity})",
  outboxFullFix: "bring {target} back online, or raise relay.outboxPerNode",
  noGateway: "node {node} has no gateway",
  noGatewayFix: "give nodes[].url for {node}, or let it read its mailbox (no url)",
  runTimedOut: "node {node}: run {runId} did not finish in time",
  runEnded: "node {node}: run {runId} ended {status}",
  runEndedFix: "look at the agent's log on {node}; `clawbridge state retry` runs it again",
  deadLetter:
    "⚠️ Could not deliver {what} to {target}, and trying again will not help: {reason}. It is kept as a dead letter: `clawbridge state dead-letters` lists it, `clawbridge state retry {id}` tries again.",
  deadLetterWhatDeliver: "{from}'s message ({id})",
  deadLetterWhatAppend: "an inbox line ({id})",
  deadLetterWhatPost: "a chat message ({id})",
} as const;

export type RelayMessageKey = keyof typeof en;

const zhCN: Record<RelayMessageKey, string> = {
  stoppedHops: "已停止 {pair} 的自动对话（超过 {limit} 跳）",
  pausedBudget: "已暂停 {pair} 的自动对话：1 分钟内转发超过 {limit} 次，{seconds} 秒后恢复",

  audit: "[{from} → {to}] {content}",
  answer: "[{node}] {text}",
  mailboxOnly: "{node} 通过邮箱收信：消息已写入 messages/to-{node}.jsonl，等待其智能体读取。",
  outboxFull: "{node} 离线，已有 {count} 条消息在等待；这条未能排队：{content}",
  outboxFullError: "{target} 的发件箱已满（{pending} 条在等待，上限 {capacity}）",
  outboxFullFix: "让 {target} 重新上线，或调大 relay.outboxPerNode",
  noGateway: "节点 {node} 没有网关",
  noGatewayFix: "为 {node} 配置 nodes[].url，或让它读取自己的邮箱（不配置 url）",
  runTimedOut: "节点 {node}：运行 {runId} 没有按时结束",
  runEnded: "节点 {node}：运行 {runId} 以 {status} 结束",
  runEndedFix: "查看 {node} 上智能体的日志；`clawbridge state retry` 可以重新运行",
  deadLetter:
    "⚠️ 无法把{what}投递给 {target}，重试也无济于事：{reason}。已作为死信保存：`clawbridge state dead-letters` 可查看，`clawbridge state retry {id}` 可重试。",
  deadLetterWhatDeliver: " {from} 的消息（{id}）",
  deadLetterWhatAppend: "一行邮箱消息（{id}）",
  deadLetterWhatPost: "一条群消息（{id}）",
};

/** What the relay says in the group: audit lines, answers, refusals, loop stops (in `feishu.locale`). */
export const relayMessages = defineMessages("relay", en, zhCN);
