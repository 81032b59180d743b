import { defineMessages } from "../core/index.js";

const en = {
  listenFailed: "cannot listen for HTTP on {address}: {reason}",
  fixInUse:
    "port {port} is already in use (perhaps by another clawbridge): stop what uses it or change http.port",
  fixAccess: "no permission to use port {port}: use a port above 1024 or change http.port",
  fixAddress:
    "this machine has no address {host}: change http.host (default 127.0.0.1; 0.0.0.0 means every interface)",
  fixOther: "check http.host and http.port",
} as const;

export type HttpMessageKey = keyof typeof en;

const zhCN: Record<HttpMessageKey, string> = {
  listenFailed: "无法在 {address} 上监听 HTTP：{reason}",
  fixInUse: "端口 {port} 已被占用（也许另一个 clawbridge 正在运行）：停止占用它的进程，或修改 http.port",
  fixAccess: "没有权限使用端口 {port}：用 1024 以上的端口，或修改 http.port",
  fixAddress: "本机没有地址 {host}：修改 http.host（默认 127.0.0.1；0.0.0.0 表示所有网卡）",
  fixOther: "检查 http.host 和 http.port",
};

/** What the HTTP listener says to people (a port it cannot take). */
export const httpMessages = defineMessages("http", en, zhCN);
