import { feishuMessages } from "../messages.js";
import { ClawbridgeError, type Logger } from "../../core/index.js";
import type { DeliveryEnv } from "./deliver.js";
import type { ResolvedOutboundOptions } from "./options.js";
import type { OutboundCounters } from "./outbound-stats.js";

/** What the queue shares with its chat lanes and patch slots. */
export interface QueueContext {
  options: ResolvedOutboundOptions;
  env: DeliveryEnv;
  counters: OutboundCounters;
  log: Logger;
  /** Callers rejected because the queue closed (reported by `close()`). */
  abandoned: { count: number };
}

/** The error for work the queue will not do because it is closing; `cause` is the last failure, if any. */
export function queueClosedError(cause?: unknown): ClawbridgeError {
  return new ClawbridgeError("CB_FEISHU_QUEUE_CLOSED", feishuMessages.text("queueClosed"), {
    fix: feishuMessages.text("queueClosedFix"),
    cause,
  });
}
