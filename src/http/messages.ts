import { defineMessages } from "../core/index.js";

const en = {
  listenFailed: "cannot listen for HTTP on {address}: {reason}",
  fixInUse:
    "port {port} is already in use (perhaps by another clawbridge): stop what uses it or change {key}.port",
  fixAccess: "no permission to use port {port}: use a port above 1024 or change {key}.port",
  fixAddress:
    "this machine has no address {host}: change {key}.host (default 127.0.0.1; 0.0.0.0 means every interface)",
  fixOther: "check {key}.host and {key}.port",
} as const;

export type HttpMessageKey = keyof typeof en;

const zhCN: Record<HttpMessageKey, string> = {
  listenFailed: "无法在 {address} 上监听 HTTP：{reason}",
  fixInUse: "端口 {port} 已被占用（也许另一个 clawbridge 正在运行）：停止占用它的进程，或修改 {key}.port",
  fixAccess: "没有权限使用端口 {port}：用 1024 以上的端口，或修改 {key}.port",
  fixAddress: "本机没有地址 {host}：修改 {key}.host（默认 127.0.0.1；0.0.0.0 表示所有网卡）",
  fixOther: "检查 {key}.host 和 {key}.port",
};

/** What the HTTP listener says to people (a port it cannot take). */
export const httpMessages = defineMessages("http", en, zhCN);
