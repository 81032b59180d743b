import { defineMessages } from "./i18n.js";

const en = {
  stateLocked: "the state folder {dir} is in use by another clawbridge (pid {pid} on {host}, since {since})",
  stateLockedFix:
    "stop that process first (kill {pid}) or give this one another state.dir; two bridges sharing one state folder corrupt its cursors and outboxes",
  stateLockedSelf: "this process already holds the state folder {dir}",
  stateLockBusy: "could not lock the state folder {dir}: other processes keep racing for the lock file",
  stateIo: "{file}: {reason}",
  stateIoFix: "check that the state folder (state.dir) exists, has free space and is writable by this user",
} as const;

export type CoreMessageKey = keyof typeof en;

const zhCN: Record<CoreMessageKey, string> = {
  stateLocked: "状态目录 {dir} 正被另一个 clawbridge 使用（{host} 上的进程 {pid}，自 {since} 起）",
  stateLockedFix:
    "先停止那个进程（kill {pid}），或给这个 clawbridge 另配一个 state.dir；两个进程共用一个状态目录会弄坏游标和发件箱",
  stateLockedSelf: "本进程已经锁定了状态目录 {dir}",
  stateLockBusy: "无法锁定状态目录 {dir}：其他进程在同时抢占锁文件",
  stateIo: "{file}：{reason}",
  stateIoFix: "检查状态目录（state.dir）是否存在、有剩余空间并且本用户可写",
};

/** What the core says to people: the state folder's lock and I/O. */
export const coreMessages = defineMessages("core", en, zhCN);
