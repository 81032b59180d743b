import { createLogger } from "../../src/core/index.js";
import {
  OutboundQueue,
  type OutboundLimits,
  type OutboundQueueOptions,
  type OutboundRetryOptions,
} from "../../src/feishu/outbound/index.js";
import { logSink } from "./log-sink.js";
import { MemoryFeishuApi, type MemoryFeishuApiOptions } from "./memory-feishu-api.js";

export interface OutboundHarnessOptions extends Pick<OutboundQueueOptions, "truncationNotice"> {
  /** Limits the in-memory Feishu enforces. */
  api?: MemoryFeishuApiOptions;
  /** Limits the queue paces itself by. */
  limits?: Partial<OutboundLimits>;
  /** Retry backoff; default 10 ms doubling to 50 ms, so retries do not slow the tests. */
  retry?: Partial<OutboundRetryOptions>;
}

/**
 * An `OutboundQueue` in front of a `MemoryFeishuApi`, logging at debug level to a sink the
 * test can read.
 */
export function outboundHarness(options: OutboundHarnessOptions = {}) {
  const sink = logSink();
  const api = new MemoryFeishuApi(options.api);
  const queue = new OutboundQueue({
    api,
    logger: createLogger({ destination: sink.stream, level: "debug" }),
    limits: options.limits,
    retry: { baseMs: 10, maxMs: 50, ...options.retry },
    truncationNotice: options.truncationNotice,
  });
  return { api, queue, sink };
}
