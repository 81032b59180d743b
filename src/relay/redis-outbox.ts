// Longer than our usual file: the put/done scripts and the consumer's takeover must agree on
// one set of keys and one order (seq), so they stay together; the local view
// (lane-view.ts) and the reply parsing (redis-stream-replies.ts) are apart.
import type { Redis } from "ioredis";
import {
  connectionName,
  errorText,
  FENCE_CHECK_LUA,
  isFencedError,
  parseClaimReply,
  runScript,
  type Fence,
  type LuaScript,
  type RawEntry,
  type RedisStore,
} from "../cluster/index.js";
import {
  backoffDelay,
  internalError,
  RecentIds,
  silentLogger,
  sleep,
  systemClock,
  type Clock,
  type Logger,
} from "../core/index.js";
import { storedItem } from "./outbox.js";
import type { OutboxSource } from "./outbox-journal.js";
import { LaneView } from "./lane-view.js";
import {
  parseEntry,
  parseNumbers,
  parsePutReply,
  parseReadReply,
  type StreamEntry,
} from "./redis-stream-replies.js";
import type { OutboxStore } from "./outbox-store.js";
import type { OutboxItem, OutboxStats, PutResult, SourcedId } from "./outbox-types.js";

export interface RedisOutboxOptions<T> {
  store: RedisStore;
  /** A node name, or e.g. `feishu:<chat>`. */
  target: string;
  /** Most items pending at once, across all replicas (`relay.outboxPerNode`). */
  capacity: number;
  /** How many done ids Redis remembers to answer `duplicate`; default ten times `capacity`. */
  rememberDone?: number;
  /** As in `Outbox`: items of one lane are delivered in order. */
  laneOf?: (payload: T) => string;
  logger?: Logger;
  clock?: Clock;
  /** This replica's id: its consumer name in the stream's group. */
  consumer: string;
  /** How long an entry another consumer took must lie unacknowledged before this one takes it over. */
  claimIdleMs: number;
  /** How long done marks gather before they are written; default `DONE_GATHER_MS`. */
  doneGatherMs?: number;
  /** How long the next read waits after one that brought entries; default `READ_LINGER_MS`. */
  readLingerMs?: number;
}

/** One `consume` call, from the group's creation to `stopConsuming`. */
interface ConsumeRun {
  fence: Fence;
  onItems: () => void;
  /** Its own connection: `XREADGROUP BLOCK` holds it. */
  connection: Redis;
  stopped: boolean;
  /** While taking over: what was found, shown only once nobody else holds older entries. */
  staged: Map<string, StreamEntry<unknown>> | undefined;
  /** Pending entries that are no item of ours (unreadable): not taken again and again. */
  unreadable: Set<string>;
  nextSweepAt: number;
  /** Times the connection dropped: a read that was out meanwhile may have lost its reply. */
  drops: number;
  wakers: Set<() => void>;
  loop: Promise<void>;
  /** Rejects once consuming stops; every command on `connection` races it (see `command`). */
  halted: Promise<never>;
  halt: () => void;
}

const GROUP = "bridge";
/** Entries read or claimed per command. */
const BATCH = 256;
/** A blocked read returns at least this often, so stopping and sweeping are never held up long. */
const BLOCK_MS = 1_000;
/** Pages of a claim or a re-read of one's own entries, beyond what capacity needs. */
const EXTRA_PAGES = 10;
/**
 * Done marks wait this long to go out together: no lane waits for them (see Relay.markDone),
 * and under load a target's marks of a few ms then cost one script instead of one per turn
 * (ha.throughput: a third fewer scripts per envelope, Redis' CPU down about a tenth).
 */
const DONE_GATHER_MS = 5;
/**
 * After a read that brought entries, the next waits this long, so that under load one read
 * brings what a few ms put instead of a read per put; the items read are being delivered
 * meanwhile. A quiet stream is still read the moment something arrives (BLOCK).
 */
const READ_LINGER_MS = 5;
// Sweeps and the takeover's deadline read `systemClock`, not the injected clock: they pace
// reads against Redis' own idle times (XAUTOCLAIM), which a test's clock does not move.
const RETRY_BACKOFF = { baseMs: 100, maxMs: 5_000, factor: 2, jitter: 0.3 };

// KEYS: stream, ids, done, seq. ARGV[1] "1" = requeue (a done id is queued again), ARGV[2]
// capacity, then id/json pairs. Per item one letter: q queued, d duplicate, o overflow. A run
// resent after a lost reply finds its ids pending and answers d: nothing is queued twice.
const PUT: LuaScript = {
  name: "clawbridgeOutboxPut",
  keys: 4,
  lua: `
local again = ARGV[1] == "1"
local capacity = tonumber(ARGV[2])
local size = redis.call("HLEN", KEYS[2])
local results = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call("HEXISTS", KEYS[2], id) == 1 or (not again and redis.call("ZSCORE", KEYS[3], id)) then
    results[#results + 1] = "d"
  elseif size >= capacity then
    results[#results + 1] = "o"
  else
    if again then redis.call("ZREM", KEYS[3], id) end
    local seq = redis.call("INCR", KEYS[4])
    redis.call("XADD", KEYS[1], "*", "seq", seq, "item", ARGV[i + 1])
    redis.call("HSET", KEYS[2], id, seq)
    size = size + 1
    results[#results + 1] = "q"
  end
end
return {size, tonumber(redis.call("GET", KEYS[4]) or "0"), redis.call("XLEN", KEYS[1]), table.concat(results)}
`,
};

// KEYS: lease, stream, ids, done. ARGV: fence value, group, rememberDone, then per item its
// entry id, item id and seq. An id is taken out of the pending hash only while it still names
// this entry's seq: a requeue made since holds a newer one. Run twice (a resend), it changes
// nothing more. The dones of a few ms (DONE_GATHER_MS) go in one call: a batched inbox
// append alone acknowledges up to a hundred items at once.
const DONE: LuaScript = {
  name: "clawbridgeOutboxDone",
  keys: 4,
  lua: `${FENCE_CHECK_LUA}
local remember = tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local entry, id, seq = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call("XACK", KEYS[2], ARGV[2], entry)
  redis.call("XDEL", KEYS[2], entry)
  local held = redis.call("HGET", KEYS[3], id)
  if held == seq then redis.call("HDEL", KEYS[3], id) end
  if not held or held == seq then redis.call("ZADD", KEYS[4], seq, id) end
end
local over = redis.call("ZCARD", KEYS[4]) - remember
if over > 0 then redis.call("ZREMRANGEBYRANK", KEYS[4], 0, over - 1) end
return {redis.call("HLEN", KEYS[3]), redis.call("XLEN", KEYS[2])}
`,
};

/** A `put` waiting for its tick's batch: its items' ids and JSON, and its result letters. */
interface PutRequest {
  again: boolean;
  ids: string[];
  jsons: string[];
  resolve: (codes: string) => void;
  reject: (error: unknown) => void;
}

/** A `done` waiting for its tick's batch. */
interface DoneRequest<T> {
  run: ConsumeRun;
  entry: StreamEntry<T>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The outbox of one target in Redis, shared by the replicas: a stream of put items (each
 * with its `seq`), a hash of pending ids, a sorted set of remembered done ids and a counter.
 *
 * Any replica puts (one atomic script per call: duplicate, overflow or queued, exactly like
 * `Outbox`). Only the replica owning the target consumes, through the stream's consumer group:
 * what it reads stays pending in the group until `done` acknowledges it under the owner's
 * fence, so a replica that dies leaves its entries for the next owner, who takes them over
 * before reading anything newer — a lane's order holds across failover.
 *
 * The reading side (`pending`, `laneHeads`, …) is the local view of what this replica has
 * claimed while consuming; `size` is the count across replicas as of the last script reply.
 */
export class RedisOutbox<T> implements OutboxStore<T> {
  readonly target: string;
  readonly capacity: number;
  readonly consumer: string;
  private readonly store: RedisStore;
  private readonly rememberDone: number;
  private readonly claimIdleMs: number;
  private readonly doneGatherMs: number;
  private readonly readLingerMs: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly keys: { stream: string; ids: string; done: string; seq: string };
  private readonly view: LaneView<T, StreamEntry<T>>;
  /** Ids this instance put lately (queued or found there): `has` knows them. */
  private readonly putIds: RecentIds;
  private readonly putting = new Map<string, Promise<unknown>>();
  private readonly finishing = new Map<string, Promise<void>>();
  /** `put` calls of this tick, written together (see `flushPuts`). */
  private putQueue: PutRequest[] = [];
  /** `done` calls of the last few ms, marked together (see `flushDone`). */
  private doneQueue: DoneRequest<T>[] = [];
  /** Ids this instance finished lately, with their seq (an older entry of one is not taken again). */
  private readonly finished = new Map<string, { seq: number; source?: OutboxSource }>();
  private run: ConsumeRun | undefined;
  private state: "new" | "open" | "closed" = "new";
  private lastSize = 0;
  private lastSeq = 0;
  private lines = 0;
  private writes = 0;

  constructor(options: RedisOutboxOptions<T>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError("outbox capacity must be a whole number ≥ 1");
    }
    if (!(options.claimIdleMs > 0)) throw new RangeError("outbox claimIdleMs must be positive");
    this.store = options.store;
    this.target = options.target;
    this.capacity = options.capacity;
    this.consumer = options.consumer;
    this.claimIdleMs = Math.round(options.claimIdleMs);
    this.doneGatherMs = options.doneGatherMs ?? DONE_GATHER_MS;
    this.readLingerMs = options.readLingerMs ?? READ_LINGER_MS;
    this.rememberDone = options.rememberDone ?? options.capacity * 10;
    this.log = (options.logger ?? silentLogger()).child({
      component: "relay.redis-outbox",
      target: this.target,
      consumer: this.consumer,
    });
    this.clock = options.clock ?? systemClock;
    const stream = options.store.key("outbox", options.target);
    this.keys = { stream, ids: `${stream}:ids`, done: `${stream}:done`, seq: `${stream}:seq` };
    this.view = new LaneView<T, StreamEntry<T>>(options.laneOf as ((payload: unknown) => string) | undefined);
    this.putIds = new RecentIds(Math.max(1, this.rememberDone));
  }

  /** Reads how many items wait (across replicas) and the last seq handed out. */
  async load(): Promise<void> {
    if (this.state !== "new") throw internalError(`outbox ${this.target} is already loaded`);
    await this.refresh();
    this.state = "open";
  }

  async put(input: OutboxItem<T>[] | OutboxItem<T>): Promise<PutResult[]> {
    return this.putItems(input, false);
  }

  /** Like `put`, but an id remembered as done is queued again (a dead letter being retried). */
  async requeue(item: OutboxItem<T>): Promise<PutResult> {
    const [result] = await this.putItems(item, true);
    return result!;
  }

  private async putItems(input: OutboxItem<T>[] | OutboxItem<T>, again: boolean): Promise<PutResult[]> {
    this.assertOpen();
    const list = Array.isArray(input) ? input : [input];
    // Serialised first, so a payload that is not JSON fails the call before anything is written.
    const jsons = list.map((item) => JSON.stringify(storedItem(item)));
    if (list.length === 0) return [];
    const written = new Promise<string>((resolve, reject) => {
      this.putQueue.push({ again, ids: list.map((item) => item.id), jsons, resolve, reject });
      if (this.putQueue.length === 1) setImmediate(() => this.flushPuts());
    });
    for (const item of list) this.putting.set(item.id, written);
    let codes: string;
    try {
      codes = await written;
    } finally {
      for (const item of list) if (this.putting.get(item.id) === written) this.putting.delete(item.id);
    }
    const results = list.map((item, index): PutResult => {
      const code = codes[index];
      if (code !== "o") this.putIds.add(item.id);
      return code === "q" ? "queued" : code === "d" ? "duplicate" : "overflow";
    });
    const overflowed = results.filter((result) => result === "overflow").length;
    if (overflowed > 0)
      this.log.warn({ overflowed, capacity: this.capacity }, "outbox full: items not queued");
    return results;
  }

  /**
   * Writes the tick's puts, in the order they were called, in one script per run of puts
   * alike in `again` (normally one): the answers of many deliveries finishing together cost
   * one round trip, not one each. Each call still gets its own items' results.
   */
  private flushPuts(): void {
    const queued = this.putQueue.splice(0);
    for (let start = 0; start < queued.length;) {
      let end = start + 1;
      while (end < queued.length && queued[end]!.again === queued[start]!.again) end++;
      void this.writePuts(queued.slice(start, end));
      start = end;
    }
  }

  private async writePuts(requests: PutRequest[]): Promise<void> {
    const args: (string | number)[] = [requests[0]!.again ? "1" : "0", this.capacity];
    for (const { ids, jsons } of requests) ids.forEach((id, index) => args.push(id, jsons[index]!));
    const { stream, ids, done, seq } = this.keys;
    let codes: string;
    try {
      const [size, lastSeq, lines, replyCodes] = parsePutReply(
        await runScript(this.store.client, PUT, [stream, ids, done, seq], args),
      );
      this.writes++;
      this.lastSize = size;
      this.lastSeq = lastSeq;
      this.lines = lines;
      codes = replyCodes;
    } catch (error) {
      for (const request of requests) request.reject(error);
      return;
    }
    let offset = 0;
    for (const request of requests) {
      request.resolve(codes.slice(offset, offset + request.ids.length));
      offset += request.ids.length;
    }
  }

  /**
   * Starts consuming as the target's owner: creates the group (at the stream's start, so
   * items put before it existed are delivered), takes over this consumer's own pending
   * entries and then, once they lie idle `claimIdleMs`, those other consumers took and never
   * acknowledged — only then reads new entries. Resolves once that takeover is complete (or
   * consuming was stopped); reading goes on until `stopConsuming`, through Redis outages.
   * `onItems` is called whenever the local view gained items.
   */
  async consume(fence: Fence, onItems: () => void): Promise<void> {
    this.assertOpen();
    if (this.run) throw internalError(`outbox ${this.target} is already being consumed`);
    const connection = this.store.duplicate(connectionName(`outbox:${this.target}:${this.consumer}`));
    let tookOver!: () => void;
    const ready = new Promise<void>((resolve) => (tookOver = resolve));
    let halt!: () => void;
    const halted = new Promise<never>((_, reject) => {
      halt = () => reject(new Error(`outbox ${this.target}: consuming stopped`));
    });
    halted.catch(() => undefined);
    const run: ConsumeRun = {
      fence,
      onItems,
      connection,
      stopped: false,
      staged: undefined,
      unreadable: new Set(),
      nextSweepAt: 0,
      drops: 0,
      wakers: new Set(),
      loop: Promise.resolve(),
      halted,
      halt,
    };
    connection.on("close", () => run.drops++);
    this.run = run;
    run.loop = this.readLoop(run, tookOver).finally(tookOver);
    await ready;
  }

  /** Ends reading and forgets the local view: what was not done stays pending for the next owner. */
  async stopConsuming(): Promise<void> {
    const run = this.run;
    if (!run) return;
    // Done marks on the way are written while this replica still holds the target: a lane
    // goes on without waiting for them (see Relay.markDone), so they may still be out.
    await Promise.allSettled([...this.finishing.values()]);
    this.run = undefined;
    run.stopped = true;
    run.halt();
    for (const wake of run.wakers) wake();
    // A blocked read would hold the loop up to BLOCK_MS; entries it took stay pending in the group.
    run.connection.disconnect();
    await run.loop;
    this.view.clear();
  }

  pending(): readonly OutboxItem<T>[] {
    return this.view.pending();
  }

  laneHeads(): IterableIterator<OutboxItem<T>> {
    return this.view.heads();
  }

  laneItems(lane: string, limit: number): OutboxItem<T>[] {
    return this.view.laneItems(lane, limit);
  }

  peek(): OutboxItem<T> | undefined {
    return this.view.first();
  }

  /**
   * Acknowledges a delivered item under the consume fence; resolves once Redis has it. An id
   * not in the local view is ignored. Throws a `FENCED` error (see `isFencedError`) when the
   * target's lease has moved on: the new owner delivers the item again (effects are idempotent).
   */
  async done(id: string, after?: Promise<unknown>): Promise<void> {
    this.assertOpen();
    const finishing = this.finishing.get(id);
    if (finishing) return finishing;
    const entry = this.view.items.get(id);
    const run = this.run;
    if (!entry || !run) return;
    const written = this.finish(run, entry, after).finally(() => this.finishing.delete(id));
    this.finishing.set(id, written);
    return written;
  }

  private async finish(run: ConsumeRun, entry: StreamEntry<T>, after?: Promise<unknown>): Promise<void> {
    // Out of its lane while its acknowledgement is on the way: a lane must not show the rest
    // of a batch as its new head while the batch is being marked done (the relay would write
    // a batched append again).
    this.view.hide(entry.item.id);
    if (after) {
      try {
        await after;
      } catch (error) {
        if (this.view.items.get(entry.item.id) === entry) this.view.show(entry.item.id);
        throw error;
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.doneQueue.push({ run, entry, resolve, reject });
      if (this.doneQueue.length === 1) setTimeout(() => void this.flushDone(), this.doneGatherMs);
    });
  }

  /** Marks the gathered dones in one script per consume run (normally one). */
  private async flushDone(): Promise<void> {
    const queued = this.doneQueue.splice(0);
    const byRun = new Map<ConsumeRun, DoneRequest<T>[]>();
    for (const request of queued) {
      const requests = byRun.get(request.run);
      if (requests) requests.push(request);
      else byRun.set(request.run, [request]);
    }
    await Promise.all(
      [...byRun].flatMap(([run, requests]) => {
        const chunks: DoneRequest<T>[][] = [];
        for (let i = 0; i < requests.length; i += BATCH) chunks.push(requests.slice(i, i + BATCH));
        return chunks.map((chunk) => this.markDone(run, chunk));
      }),
    );
  }

  private async markDone(run: ConsumeRun, requests: DoneRequest<T>[]): Promise<void> {
    const { stream, ids, done } = this.keys;
    const args: (string | number)[] = [run.fence.value, GROUP, this.rememberDone];
    for (const { entry } of requests) args.push(entry.entryId, entry.item.id, entry.seq);
    let reply: unknown;
    try {
      reply = await runScript(this.store.client, DONE, [run.fence.key, stream, ids, done], args);
    } catch (error) {
      for (const { entry, reject } of requests) {
        const { id } = entry.item;
        // Back in its lane, its effect maybe done: whoever tries it again looks first.
        if (this.view.items.get(id) === entry) {
          this.view.show(id);
          entry.item.redelivered = true;
        }
        reject(
          isFencedError(error)
            ? new Error(
                `FENCED outbox ${this.target}: item ${id} was not marked done — the target's lease is held by ` +
                  `another replica now (this one must stop consuming it; the new owner delivers it again)`,
                { cause: error },
              )
            : error,
        );
      }
      return;
    }
    this.writes++;
    const [size, lines] = parseNumbers(reply, 2);
    this.lastSize = size!;
    this.lines = lines!;
    for (const { entry, resolve } of requests) {
      const { id } = entry.item;
      if (this.view.items.get(id) === entry) this.view.remove(id);
      this.finished.delete(id);
      this.finished.set(id, { seq: entry.seq, ...(entry.item.source ? { source: entry.item.source } : {}) });
      if (this.finished.size > this.rememberDone) this.finished.delete(this.finished.keys().next().value!);
      resolve();
    }
  }

  attempt(id: string, error?: unknown): void {
    const entry = this.view.items.get(id);
    if (!entry) return;
    entry.item.attempts++;
    entry.item.lastAttemptAt = this.clock.now();
    if (error !== undefined) entry.item.lastError = error instanceof Error ? error.message : String(error);
  }

  /** In the local view, being put, or put or finished lately by this instance. */
  has(id: string): boolean {
    return this.view.items.has(id) || this.putting.has(id) || this.finished.has(id) || this.putIds.has(id);
  }

  /** Items waiting across all replicas, as of the last script reply (or `load`). */
  get size(): number {
    return this.lastSize;
  }

  seqOf(id: string): number | undefined {
    return this.view.items.get(id)?.seq;
  }

  /** The last seq handed out, as far as this replica has seen. */
  get seq(): number {
    return this.lastSeq;
  }

  sourceOf(id: string): OutboxSource | undefined {
    return this.view.items.get(id)?.item.source ?? this.finished.get(id)?.source;
  }

  /** The Redis store keeps its inbox cursors in a tail ledger of its own: nothing to rebuild from here. */
  sourced(): SourcedId[] {
    return [];
  }

  stats(): OutboxStats {
    return {
      target: this.target,
      pending: this.lastSize,
      capacity: this.capacity,
      writes: this.writes,
      compactions: 0,
      lines: this.lines,
    };
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await this.stopConsuming();
    await Promise.allSettled([...this.putting.values(), ...this.finishing.values()]);
  }

  private assertOpen(): void {
    if (this.state === "open") return;
    throw internalError(`outbox ${this.target} ${this.state === "new" ? "is not loaded" : "is closed"}`);
  }

  private async refresh(): Promise<void> {
    const client = this.store.client;
    const [size, seq, lines] = await Promise.all([
      client.hlen(this.keys.ids),
      client.get(this.keys.seq),
      client.xlen(this.keys.stream),
    ]);
    this.lastSize = size;
    this.lastSeq = Number(seq ?? 0);
    this.lines = lines;
  }

  // ── the consumer ──────────────────────────────────────────────────────────────────────

  /**
   * group → takeover → read. After a failure, or a read the connection dropped under, the
   * loop goes through "own" (this consumer's pending entries, read again) before reading on.
   */
  private async readLoop(run: ConsumeRun, tookOver: () => void): Promise<void> {
    let phase: "group" | "takeover" | "own" | "read" = "group";
    let failures = 0;
    while (!run.stopped) {
      if (run.connection.status === "end") {
        this.log.warn("the outbox's Redis connection was closed; consuming stopped");
        return;
      }
      try {
        if (phase === "group") {
          await this.createGroup(run);
          phase = "takeover";
        }
        if (phase === "takeover") {
          await this.takeOver(run);
          phase = "read";
          tookOver();
        }
        if (phase === "own") {
          await this.staging(run, () => this.readOwn(run));
          phase = "read";
        }
        if (!(await this.readNew(run))) phase = "own";
        if (systemClock.now() >= run.nextSweepAt && run.fence.held()) await this.sweep(run);
        failures = 0;
      } catch (error) {
        // What was collected for a takeover is dropped: it stays pending, and is read again.
        run.staged = undefined;
        if (run.stopped) return;
        const delay = backoffDelay(failures++, RETRY_BACKOFF);
        if (errorText(error).startsWith("NOGROUP")) {
          // Redis came back without its data, or the stream was deleted: start the group again.
          this.log.warn(
            { delay },
            "the outbox's consumer group is gone (Redis lost its data?); creating it again",
          );
          phase = "group";
        } else {
          if (phase === "read") phase = "own";
          this.log.warn(
            { err: { message: errorText(error) }, delay },
            "reading the outbox failed; trying again",
          );
        }
        await this.pause(run, delay);
      }
    }
  }

  private async createGroup(run: ConsumeRun): Promise<void> {
    try {
      // At "0", not "$": items put before any replica consumed are delivered too.
      await this.command(run, "XGROUP", "CREATE", this.keys.stream, GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!errorText(error).startsWith("BUSYGROUP")) throw error;
    }
  }

  /**
   * Collects every entry older than what `>` would give: first this consumer's own (a
   * restart), then those other consumers hold, claimed once idle `claimIdleMs` (a replica
   * that died). Nothing is shown before all are in, or a lane's newer item could go first.
   */
  private async takeOver(run: ConsumeRun): Promise<void> {
    await this.staging(run, () => this.claimAll(run));
  }

  private async claimAll(run: ConsumeRun): Promise<void> {
    const drops = run.drops;
    await this.readOwn(run);
    const deadline = systemClock.now() + 3 * this.claimIdleMs + 5_000;
    for (let round = 0; !run.stopped; round++) {
      const held = await this.heldByOthers(run);
      if (held.size === 0) break;
      if (round === 0) {
        this.log.info(
          { heldBy: Object.fromEntries(held), claimIdleMs: this.claimIdleMs },
          "other consumers hold entries of this outbox; taking them over once idle",
        );
      }
      const claimed = await this.claimIdle(run);
      if (claimed > 0) this.log.info({ claimed, from: [...held.keys()] }, "took over pending entries");
      if (systemClock.now() >= deadline || round >= 100) {
        const left = await this.heldByOthers(run);
        if (left.size === 0) break;
        this.log.warn(
          { heldBy: Object.fromEntries(left) },
          "other consumers still hold entries; reading new ones anyway (those are taken over later)",
        );
        break;
      }
      // Claimed some: look again at once (usually nobody holds any now). Only entries not yet
      // idle are worth waiting for: waiting here holds back every delivery after a failover.
      if (claimed === 0) await this.pause(run, this.claimIdleMs / 2);
    }
    // A claim whose reply a dropped connection lost made its entries ours all the same.
    if (run.drops !== drops) await this.readOwn(run);
  }

  /** Runs `collect` with what it reads held back, then shows it all at once, in seq order. */
  private async staging(run: ConsumeRun, collect: () => Promise<void>): Promise<void> {
    run.staged = new Map();
    await collect();
    const staged = run.staged;
    run.staged = undefined;
    if (run.stopped || this.run !== run || staged.size === 0) return;
    this.view.add([...staged.values()] as StreamEntry<T>[]);
    this.notify(run);
  }

  /** This consumer's pending entries, from the start (id "0" reads its history, not new ones). */
  private async readOwn(run: ConsumeRun): Promise<void> {
    let after = "0";
    for (let page = 0; page < this.maxPages() && !run.stopped; page++) {
      const reply = await this.command(
        run,
        "XREADGROUP",
        ...["GROUP", GROUP, this.consumer, "COUNT", BATCH, "STREAMS", this.keys.stream, after],
      );
      const entries = parseReadReply(reply);
      if (entries.length === 0) return;
      this.accept(run, entries, true);
      after = entries.at(-1)!.entryId;
    }
  }

  /**
   * Reads entries no consumer has had yet. False when the connection dropped while the read
   * was out: Redis may have answered it just before (those entries are this consumer's now,
   * their reply lost) and this reply came from ioredis sending it again — newer entries, which
   * must not go before the lost ones. It is dropped; re-reading our own entries finds both.
   */
  private async readNew(run: ConsumeRun): Promise<boolean> {
    if (!run.fence.held()) {
      // The lease is lapsing: whoever owns the target next reads; this replica is being stopped.
      await this.pause(run, Math.min(200, this.claimIdleMs));
      return true;
    }
    const drops = run.drops;
    const reply = await this.command(
      run,
      "XREADGROUP",
      ...["GROUP", GROUP, this.consumer, "COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", this.keys.stream, ">"],
    );
    if (run.drops !== drops) return false;
    const entries = parseReadReply(reply);
    this.accept(run, entries, false);
    // Real time, not the injected clock: it only paces reads, and a test's frozen clock must not stop them.
    if (entries.length > 0 && this.readLingerMs > 0 && !run.stopped) {
      await sleep(systemClock, this.readLingerMs);
    }
    return true;
  }

  /**
   * Every `claimIdleMs`, a safety net: entries pending in the group that this view lacks (a
   * stale consumer took them after the takeover; a reply lost without the drop being seen)
   * are claimed. Only these can come after newer items of their lane. Costs one XPENDING
   * when there are none.
   */
  private async sweep(run: ConsumeRun): Promise<void> {
    run.nextSweepAt = systemClock.now() + this.claimIdleMs;
    const holders = await this.holders(run);
    const mine = holders.get(this.consumer) ?? 0;
    holders.delete(this.consumer);
    if (holders.size === 0 && mine <= this.view.items.size + run.unreadable.size) return;
    const claimed = await this.claimIdle(run);
    if (claimed > 0) {
      this.log.warn(
        { claimed, heldBy: Object.fromEntries(holders) },
        "took over pending entries late; they may follow newer items of their lane",
      );
    }
  }

  /** XAUTOCLAIM through the whole group: entries idle `claimIdleMs`, whoever holds them. */
  private async claimIdle(run: ConsumeRun): Promise<number> {
    let cursor = "0-0";
    let added = 0;
    for (let page = 0; page < this.maxPages() && !run.stopped; page++) {
      const reply = await this.command(
        run,
        "XAUTOCLAIM",
        ...[this.keys.stream, GROUP, this.consumer, this.claimIdleMs, cursor, "COUNT", BATCH],
      );
      const [next, entries] = parseClaimReply(reply);
      added += this.accept(run, entries, true);
      cursor = next;
      if (cursor === "0-0") break;
    }
    return added;
  }

  /** Pending entries per consumer (XPENDING's summary). */
  private async holders(run: ConsumeRun): Promise<Map<string, number>> {
    const reply = await this.command(run, "XPENDING", this.keys.stream, GROUP);
    const held = new Map<string, number>();
    const consumers = Array.isArray(reply) ? (reply[3] as unknown) : undefined;
    if (!Array.isArray(consumers)) return held;
    for (const row of consumers) {
      if (Array.isArray(row) && row.length >= 2) held.set(String(row[0]), Number(row[1]));
    }
    return held;
  }

  private async heldByOthers(run: ConsumeRun): Promise<Map<string, number>> {
    const held = await this.holders(run);
    held.delete(this.consumer);
    return held;
  }

  /**
   * Adds what was read or claimed (staged during a takeover); returns how many were new.
   * `redelivered`: taken before (by this consumer before a restart, or by a lost one): its
   * effect may have happened already, so it is marked for the checks that look first.
   */
  private accept(run: ConsumeRun, raws: RawEntry[], redelivered: boolean): number {
    if (this.run !== run || run.stopped) return 0;
    const fresh: StreamEntry<T>[] = [];
    const freshIds = new Set<string>();
    for (const raw of raws) {
      if (!raw.fields) continue; // deleted while pending: nothing to deliver
      const entry = parseEntry<T>(raw.entryId, raw.fields);
      if (!entry) {
        if (!run.unreadable.has(raw.entryId)) {
          run.unreadable.add(raw.entryId);
          this.log.error({ entryId: raw.entryId }, "outbox stream entry is not an item; left pending");
        }
        continue;
      }
      const { id } = entry.item;
      if (this.view.items.has(id) || run.staged?.has(id) || freshIds.has(id)) continue;
      // Done here while this read was under way: its acknowledgement is in, not delivered again.
      if ((this.finished.get(id)?.seq ?? 0) >= entry.seq) continue;
      if (redelivered) entry.item.redelivered = true;
      fresh.push(entry);
      freshIds.add(id);
    }
    if (fresh.length === 0) return 0;
    for (const entry of fresh) this.lastSeq = Math.max(this.lastSeq, entry.seq);
    if (run.staged) {
      for (const entry of fresh) run.staged.set(entry.item.id, entry as StreamEntry<unknown>);
    } else {
      this.view.add(fresh);
      this.notify(run);
    }
    return fresh.length;
  }

  private notify(run: ConsumeRun): void {
    try {
      run.onItems();
    } catch (error) {
      this.log.error({ err: error }, "outbox onItems failed");
    }
  }

  /**
   * A command on the consumer's own connection, given up once consuming stops: ioredis never
   * settles a command that was out when the connection dropped if the connection is closed
   * while it reconnects (before it is ready), and the loop would wait for it forever.
   */
  private command(run: ConsumeRun, name: string, ...args: (string | number)[]): Promise<unknown> {
    return Promise.race([run.connection.call(name, ...args), run.halted]);
  }

  /** Waits `ms`, or less when consuming stops. */
  private async pause(run: ConsumeRun, ms: number): Promise<void> {
    if (run.stopped) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        run.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      run.wakers.add(wake);
    });
  }

  private maxPages(): number {
    return Math.ceil(this.capacity / BATCH) + EXTRA_PAGES;
  }
}
