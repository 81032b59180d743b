import { defineMessages } from "../core/index.js";

const en = {
  // file locks and appends
  lockHeld: "{lockFile} is held",
  lockHeldBy: "{lockFile} is held by pid {pid} on {host} since {since}",
  lockHeldFix:
    "wait and retry; if that process is gone the lock turns stale after {staleMs} ms (or delete the .lock file)",
  ioFailed: "{file}: {reason}",
  ioFailedFix: "check that the shared folder is mounted and writable",
  lineBreak: "a mailbox line must not contain a line break",
  lineBreakFix: "pass each envelope as one line of JSON",
  invalidNode: "{role} {name} is not a valid node name",
  invalidNodeFix: 'use 1–63 letters, digits, "-" or "_", starting with a letter or digit',
  rootMissing: "the shared folder {root} does not exist or is not a folder",
  rootMissingFix: "mount the share (or create the folder) and check mailbox.root",
  linkRefused: "{file} is a symbolic link; the bridge reads and writes only plain files in the shared folder",
  linkRefusedFix:
    "replace the link with a plain file (whoever can write the share could point it at any file of this computer)",
  invalidEnvelope: "not a valid envelope: {problems}",
  invalidEnvelopeFix: "check the fields named above",

  // the lease on the shared folder
  leaseHeld:
    "the shared folder {root} is already served by another clawbridge: {file} is held by pid {pid} on {host} since {since}, last heartbeat {heartbeat} ({ago} s ago)",
  leaseHeldUnreadable:
    "the shared folder {root} is already served by another clawbridge: {file} is held (its content is unreadable; written {ago} s ago)",
  leaseHeldFix:
    "stop the clawbridge on {host} (pid {pid}) first; if it died, wait {ttl} s and start again — a lease without a heartbeat for that long is taken over. Never delete {file} by hand while it runs",
  leaseHeldFixUnknown:
    "stop the other clawbridge that uses this shared folder; if none runs, wait {ttl} s and start again",
  leaseHeldSelf: "this process already holds {file}",
  leaseLostTaken:
    "lost the lease {file} on the shared folder: pid {pid} on {host} holds it now (since {since})",
  leaseLostExpired:
    "lost the lease {file} on the shared folder: it could not be renewed for {ttl} s ({reason})",
  leaseLostFix:
    "this bridge must stop serving the shared folder; make sure only one clawbridge uses it, then restart this one",
  leaseBadTiming: "lease heartbeatMs ({heartbeatMs}) must be above 0 and below ttlMs ({ttlMs})",
  leaseNeedsRoot: "acquireLease needs root or layout",

  // tasks/shared-tasks.md
  boardHeading: "### clawbridge tasks",
  boardNote:
    "_This block is maintained by clawbridge; edits inside it are overwritten, everything outside it is kept._",
  boardEmpty: "(no tasks yet)",
  boardId: "Task",
  boardNode: "Node",
  boardState: "State",
  boardTitle: "Prompt",
  boardRequestedBy: "Requested by",
  boardStarted: "Started",
  boardFinished: "Finished",
} as const;

export type MailboxMessageKey = keyof typeof en;

const zhCN: Record<MailboxMessageKey, string> = {
  lockHeld: "{lockFile} 已被占用",
  lockHeldBy: "{lockFile} 被 {host} 上的进程 {pid} 占用，自 {since} 起",
  lockHeldFix: "稍后重试；如果那个进程已经退出，锁会在 {staleMs} 毫秒后过期（也可以删除该 .lock 文件）",
  ioFailed: "{file}：{reason}",
  ioFailedFix: "检查共享文件夹是否已挂载并且可写",
  lineBreak: "邮箱中的一行不能包含换行符",
  lineBreakFix: "每个信封写成一行 JSON",
  invalidNode: "{role} {name} 不是有效的节点名",
  invalidNodeFix: "使用 1–63 个字母、数字、“-” 或 “_”，并以字母或数字开头",
  rootMissing: "共享文件夹 {root} 不存在或不是文件夹",
  rootMissingFix: "挂载共享（或创建该文件夹），并检查 mailbox.root",
  linkRefused: "{file} 是符号链接；桥接只读写共享文件夹中的普通文件",
  linkRefusedFix: "请用普通文件替换这个链接（能写入共享的人可以让它指向本机的任何文件）",
  invalidEnvelope: "不是有效的信封：{problems}",
  invalidEnvelopeFix: "检查上面列出的字段",

  leaseHeld:
    "共享文件夹 {root} 已由另一个 clawbridge 服务：{file} 由 {host} 上的进程 {pid} 持有，自 {since} 起，最近一次心跳 {heartbeat}（{ago} 秒前）",
  leaseHeldUnreadable:
    "共享文件夹 {root} 已由另一个 clawbridge 服务：{file} 已被占用（内容无法读取，{ago} 秒前写入）",
  leaseHeldFix:
    "先停止 {host} 上的 clawbridge（进程 {pid}）；如果它已经退出，等待 {ttl} 秒后再启动——超过这个时间没有心跳的租约会被接管。它运行期间切勿手动删除 {file}",
  leaseHeldFixUnknown: "先停止使用这个共享文件夹的另一个 clawbridge；如果没有在运行的，等待 {ttl} 秒后再启动",
  leaseHeldSelf: "本进程已经持有 {file}",
  leaseLostTaken: "失去了共享文件夹的租约 {file}：现在由 {host} 上的进程 {pid} 持有（自 {since} 起）",
  leaseLostExpired: "失去了共享文件夹的租约 {file}：已有 {ttl} 秒无法续约（{reason}）",
  leaseLostFix: "本 clawbridge 必须停止服务这个共享文件夹；确认只有一个 clawbridge 在使用它，然后重启本进程",
  leaseBadTiming: "租约的 heartbeatMs（{heartbeatMs}）必须大于 0 且小于 ttlMs（{ttlMs}）",
  leaseNeedsRoot: "acquireLease 需要 root 或 layout",

  boardHeading: "### clawbridge 任务",
  boardNote: "_此区块由 clawbridge 维护，区块内的修改会被覆盖；区块外的内容会保留。_",
  boardEmpty: "（暂无任务）",
  boardId: "任务",
  boardNode: "节点",
  boardState: "状态",
  boardTitle: "内容",
  boardRequestedBy: "发起人",
  boardStarted: "开始",
  boardFinished: "结束",
};

/** What the mailbox says to people: lock and lease refusals, shared-folder problems, the task board. */
export const mailboxMessages = defineMessages("mailbox", en, zhCN);
