import { defineMessages } from "./i18n.js";

const en = {
  stateLocked: "the state folder {dir} is in use by another clawbridge (pid {pid} on {host}, since {since})",
  stateLockedFix:
    "stop that process first (kill {pid}) or give this one another state.dir; two bridges sharing one state folder corrupt its cursors and outboxes",
  stateLockedSelf: "this process already holds the state folder {dir}",
  stateLockBusy: "could not lock the state folder {dir}: other processes keep racing for the lock file",
  stateIo: "{file}: {reason}",
  stateIoFix: "check that the state folder (state.dir) exists, has free space and is writable by this user",
  stateNewer:
    "{file} was written by a newer clawbridge: its state format is version {found}, this release reads up to version {supported}",
  stateNewerFix:
    "run the newer clawbridge release, or `clawbridge state reset` to start this folder's cursors, outboxes and Feishu dedup over with this one",
  stateNewerKeptFix:
    "run the newer clawbridge release, or restore {file} from a backup taken before it (`clawbridge state reset` keeps this file)",
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
  stateNewer:
    "{file} 由更新版本的 clawbridge 写入：其状态格式为第 {found} 版，本版本最高只能读取第 {supported} 版",
  stateNewerFix:
    "请运行那个更新版本的 clawbridge，或执行 `clawbridge state reset`，让本版本从头开始记录该目录的游标、发件箱和飞书去重",
  stateNewerKeptFix:
    "请运行那个更新版本的 clawbridge，或从升级前的备份恢复 {file}（`clawbridge state reset` 会保留这个文件）",
};

/** What the core says to people: the state folder's lock, I/O and formats. */
export const coreMessages = defineMessages("core", en, zhCN);
