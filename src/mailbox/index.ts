export {
  FsMailboxStore,
  type MailboxStore,
  type MailboxOptions,
  type NewEnvelope,
  type TailRequest,
} from "./store.js";
export { Tailer, type TailerOptions } from "./tailer.js";
export {
  IncompleteBatch,
  oneByOne,
  unwrapIncomplete,
  type EnvelopeBatchHandler,
  type EnvelopeHandler,
  type TailedEnvelope,
} from "./envelope-batch.js";
export type { EnvelopeMeta } from "./inbox-reader.js";
export { parseEnvelopeLine, type ParsedLine } from "./envelope-line.js";
export { decodeLine } from "./line-decoder.js";
export {
  mailboxLayout,
  ensureLayout,
  inboxPath,
  inboxFileName,
  nodeOfInboxFile,
  assertNodeName,
  type MailboxLayout,
} from "./layout.js";
export { appendLines } from "./appender.js";
export { withFileLock, type LockOptions } from "./file-lock.js";
export { mailboxMessages, type MailboxMessageKey } from "./messages.js";
export {
  FileQuarantine,
  CallbackQuarantine,
  type QuarantineRecord,
  type QuarantineSink,
} from "./quarantine.js";
export {
  MemoryTailLedger,
  type TailLedger,
  type InboxCheckpoint,
  type InboxMemory,
  type DeliveredEntry,
} from "./tail-ledger.js";
export { FileTailLedger } from "./file-tail-ledger.js";
export { writeOwnStatus, readStatuses, type NodeStatusSnapshot } from "./status.js";
export {
  renderTaskBlock,
  replaceTaskBlock,
  updateTaskBoard,
  TASK_BLOCK_BEGIN,
  TASK_BLOCK_END,
  type TaskBoardEntry,
} from "./task-board.js";
export {
  decideWatchMode,
  filesystemType,
  fsTypeFromMounts,
  type WatchDecision,
  type WatchMode,
  type WatchSetting,
} from "./watch-mode.js";
export { probeSharedFolder, type SharedFolderCheck, type SharedFolderCheckId } from "./probe.js";
export {
  acquireLease,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LEASE_HEARTBEAT_MS,
  type Lease,
  type LeaseLoss,
  type LeaseOptions,
  type LeaseRecord,
} from "./lease.js";
