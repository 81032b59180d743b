import { defineMessages } from "../core/index.js";

const en = {
  noHost: "node {node}: no replica holds node {node} right now",
  noHostFix:
    "the replica that owns the node's gateway is starting over or gone; another one takes it over within the lease time",
  noAnswer: "node {node}: the replica hosting the gateway did not answer {what} within {ms} ms",
  runTimeout: "node {node}: the run {runId} did not finish within {ms} ms",
  stopped: "node {node}: the remote gateway client was stopped",
  stoppedBeforeRunEnded: "node {node}: the remote gateway client was stopped before the run ended",
  notSent: "node {node}: the request could not be put in Redis: {reason}",
} as const;

export type RemoteGatewayMessageKey = keyof typeof en;

const zhCN: Record<RemoteGatewayMessageKey, string> = {
  noHost: "节点 {node}：目前没有副本持有节点 {node}",
  noHostFix: "持有该节点网关的副本正在重启或已退出；另一个副本会在租约时间内接管",
  noAnswer: "节点 {node}：持有网关的副本在 {ms} 毫秒内没有回应 {what}",
  runTimeout: "节点 {node}：运行 {runId} 未在 {ms} 毫秒内结束",
  stopped: "节点 {node}：远程网关客户端已停止",
  stoppedBeforeRunEnded: "节点 {node}：运行结束前远程网关客户端已停止",
  notSent: "节点 {node}：无法把请求写入 Redis：{reason}",
};

/** What is said when a gateway is reached through another replica. */
export const remoteGatewayMessages = defineMessages("replica.gateway", en, zhCN);
