import {
  FENCE_CHECK_LUA,
  isFencedError,
  runScript,
  type Fence,
  type LuaScript,
  type RedisStore,
  errorText,
} from "../cluster/index.js";
import { backoffDelay, sleep, type Clock, type Logger } from "../core/index.js";
import { HOSTS_GROUP, REPLY_MAXLEN, REPLY_TTL_MS, replyKey, type ReplyEntry } from "./gateway-wire.js";

// KEYS: lease, reply stream, request stream. ARGV: fence value, group, request entry id,
// "1" when the last entry is the final one, maxlen, ttl ms, then the entries' JSON. The
// final entry and the request's acknowledgement go together: a request is never answered
// without being acknowledged, nor acknowledged without its answer.
const APPEND: LuaScript = {
  name: "clawbridgeGatewayReply",
  keys: 3,
  lua: `${FENCE_CHECK_LUA}
for i = 7, #ARGV do
  redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[5], "*", "e", ARGV[i])
end
redis.call("PEXPIRE", KEYS[2], ARGV[6])
if ARGV[4] == "1" then
  redis.call("XACK", KEYS[3], ARGV[2], ARGV[3])
  redis.call("XDEL", KEYS[3], ARGV[3])
end
return 1
`,
};

/** Entries of one script call at most: a long burst goes over a few calls, in order. */
const MAX_PER_CALL = 500;
const RETRY_BACKOFF = { baseMs: 100, maxMs: 5_000, factor: 2, jitter: 0.3 };

interface Queue {
  requestId: string;
  /** The request's entry in the request stream (what the final entry acknowledges). */
  entryId: string;
  entries: string[];
  /** The final entry is among `entries`: once written, the queue is done. */
  final: boolean;
  written: Promise<void>;
  resolve: () => void;
}

export interface ReplyWriterOptions {
  store: RedisStore;
  requests: string;
  fence: Fence;
  clock: Clock;
  log: Logger;
  /** The lease moved on: this replica must stop serving the node. */
  fenced: () => void;
}

/**
 * Writes the reply streams of the requests a host serves. Entries are queued as events come
 * and written by one flush at a time: whatever piled up meanwhile goes in the next flush, one
 * fenced script per reply stream, all sent at once — streaming deltas cost a round trip per
 * burst, not per event, and stay in order.
 */
export class ReplyWriter {
  private readonly queues = new Map<string, Queue>();
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: ReplyWriterOptions) {}

  /** Queues an entry; the promise resolves once a final entry (and the acknowledgement) is in Redis. */
  push(requestId: string, entryId: string, entry: ReplyEntry, final: boolean): Promise<void> {
    let queue = this.queues.get(requestId);
    if (!queue) {
      let resolve = () => {};
      const written = new Promise<void>((r) => (resolve = r));
      queue = { requestId, entryId, entries: [], final: false, written, resolve };
      this.queues.set(requestId, queue);
    }
    if (queue.final || this.stopped) return queue.written;
    queue.entries.push(JSON.stringify(entry));
    queue.final = final;
    this.flush();
    return queue.written;
  }

  /** Writes what is queued (bounded by `waitMs`), then writes nothing more. */
  async stop(waitMs: number): Promise<void> {
    const timer = sleep(this.options.clock, waitMs, { unref: true });
    await Promise.race([this.flushing ?? Promise.resolve(), timer]);
    this.stopped = true;
    this.queues.clear();
  }

  private flush(): void {
    if (this.flushing || this.stopped) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (!this.stopped && [...this.queues.values()].some((q) => q.entries.length > 0)) this.flush();
    });
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const batch = [...this.queues.values()].filter((queue) => queue.entries.length > 0);
      if (batch.length === 0) return;
      try {
        await Promise.all(batch.map((queue) => this.write(queue)));
        failures = 0;
      } catch (error) {
        if (isFencedError(error)) {
          this.stopped = true;
          this.queues.clear();
          this.options.fenced();
          return;
        }
        const delay = backoffDelay(failures++, RETRY_BACKOFF);
        this.options.log.warn(
          { err: { message: errorText(error) }, delay },
          "could not write gateway replies; trying again",
        );
        await sleep(this.options.clock, delay, { unref: true });
      }
    }
  }

  /** One script call for up to MAX_PER_CALL of the queue's entries; they leave the queue once written. */
  private async write(queue: Queue): Promise<void> {
    const entries = queue.entries.slice(0, MAX_PER_CALL);
    const last = entries.length === queue.entries.length && queue.final;
    const { store, fence, requests } = this.options;
    await runScript(
      store.client,
      APPEND,
      [fence.key, replyKey(store, queue.requestId), requests],
      [fence.value, HOSTS_GROUP, queue.entryId, last ? "1" : "0", REPLY_MAXLEN, REPLY_TTL_MS, ...entries],
    );
    queue.entries.splice(0, entries.length);
    if (!last) return;
    this.queues.delete(queue.requestId);
    queue.resolve();
  }
}
