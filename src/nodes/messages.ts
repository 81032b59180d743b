import { defineMessages } from "../core/index.js";

const en = {
  duplicateNode: "node {node} is listed twice",
  duplicateNodeFix: "node names must be unique ignoring case; rename or remove one of them",
  noGatewayClient: "node {node} has a url but no gateway client",
  noGatewayClientFix: "this is a bug in how clawbridge was started; please report it with the log",
  statusMissing: "no status/{node}.json in the shared folder",
  statusMissingFix:
    'have the agent on {node} write status/{node}.json regularly (with "updatedAt" and "intervalMs")',
  statusInvalid: "status/{file}.json could not be read: {reason}",
  statusInvalidFix: "have the agent on {node} write one JSON object, replacing the file as a whole",
  statusStale: "status/{file}.json was last updated {ago} ago (expected within {window})",
  statusStaleFix: "check that the agent on {node} is running and can reach the shared folder",
  statusUnreadable: "could not read the status files: {reason}",
  statusUnreadableFix: "check that the shared folder is mounted",
  minutes: "{count} min",
  seconds: "{count} s",
} as const;

export type NodesMessageKey = keyof typeof en;

const zhCN: Record<NodesMessageKey, string> = {
  duplicateNode: "节点 {node} 被列出了两次",
  duplicateNodeFix: "节点名在忽略大小写后必须唯一；请重命名或删除其中一个",
  noGatewayClient: "节点 {node} 配置了 url 却没有网关客户端",
  noGatewayClientFix: "这是 clawbridge 启动方式的缺陷；请附上日志报告",
  statusMissing: "共享文件夹中没有 status/{node}.json",
  statusMissingFix: "让 {node} 上的智能体定期写入 status/{node}.json（包含 “updatedAt” 和 “intervalMs”）",
  statusInvalid: "无法读取 status/{file}.json：{reason}",
  statusInvalidFix: "让 {node} 上的智能体每次写入一个完整的 JSON 对象，整体替换该文件",
  statusStale: "status/{file}.json 最近一次更新在 {ago}前（应在 {window}内）",
  statusStaleFix: "检查 {node} 上的智能体是否在运行、能否访问共享文件夹",
  statusUnreadable: "无法读取状态文件：{reason}",
  statusUnreadableFix: "检查共享文件夹是否已挂载",
  minutes: "{count} 分钟",
  seconds: "{count} 秒",
};

/** What the node pool says about nodes (problems shown by /nodes, doctor and the status file). */
export const nodesMessages = defineMessages("nodes", en, zhCN);
