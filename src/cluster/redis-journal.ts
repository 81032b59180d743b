// Longer than our usual file: group commit, the fenced append and rewrite, the header with
// its migration and the guard against rewriting over other writers are one write path.
import { randomUUID } from "node:crypto";
import {
  internalError,
  silentLogger,
  stateNewerError,
  type JournalContents,
  type JournalEntry,
  type JournalOptions,
  type JournalStats,
  type JournalStore,
  type Logger,
} from "../core/index.js";
import { FENCE_CHECK_LUA, fenceArgs, isFencedError, type Fence } from "./fence.js";
import { runScript, type LuaScript } from "./lua-script.js";
import type { RedisStore } from "./redis-client.js";

export interface RedisJournalOptions extends JournalOptions {
  /** The journal's part of its keys: `journal:<name>` (e.g. `tasks`, `dead-letters`). */
  name: string;
  /**
   * The fence of the role that owns this journal: given, every write is checked inside
   * Redis against it, and a write while it gives none (or one no longer held) fails. Left
   * out, anyone may write (dead letters: any replica giving up a delivery).
   */
  fence?: () => Fence | undefined;
}

// Lua's unpack() is limited by its C stack: lines are pushed in slices of this many.
const PUSH_SLICE = 1_000;

// KEYS: lease, list, header, stamp. ARGV: fence value, batch id, then the lines.
// The stamp hash counts every write by anyone (`n`) and names the last one (`last`): a batch
// sent again after a lost reply (ioredis resends what was in flight when Redis went away) is
// answered as it was, not pushed twice. A missing header means Redis lost the journal.
const APPEND: LuaScript = {
  name: "clawbridgeJournalAppend",
  keys: 4,
  lua: `${FENCE_CHECK_LUA}
if redis.call("HGET", KEYS[4], "last") == ARGV[2] then
  return {redis.call("LLEN", KEYS[2]), tonumber(redis.call("HGET", KEYS[4], "n"))}
end
if redis.call("EXISTS", KEYS[3]) == 0 then
  return redis.error_reply("GONE the journal's header is missing")
end
for i = 3, #ARGV, ${PUSH_SLICE} do
  redis.call("RPUSH", KEYS[2], unpack(ARGV, i, math.min(i + ${PUSH_SLICE - 1}, #ARGV)))
end
local n = redis.call("HINCRBY", KEYS[4], "n", 1)
redis.call("HSET", KEYS[4], "last", ARGV[2])
return {redis.call("LLEN", KEYS[2]), n}
`,
};

// KEYS: lease, list, header, stamp. ARGV: fence value, batch id, header, the stamp this
// writer last saw ("" to rewrite regardless), then the lines. Refused (STALE) when someone
// else wrote since: this writer's snapshot would drop their records.
const REPLACE: LuaScript = {
  name: "clawbridgeJournalReplace",
  keys: 4,
  lua: `${FENCE_CHECK_LUA}
if redis.call("HGET", KEYS[4], "last") == ARGV[2] then
  return {redis.call("LLEN", KEYS[2]), tonumber(redis.call("HGET", KEYS[4], "n"))}
end
if ARGV[4] ~= "" and (redis.call("HGET", KEYS[4], "n") or "0") ~= ARGV[4] then
  return redis.error_reply("STALE the journal was written by another writer")
end
redis.call("DEL", KEYS[2])
for i = 5, #ARGV, ${PUSH_SLICE} do
  redis.call("RPUSH", KEYS[2], unpack(ARGV, i, math.min(i + ${PUSH_SLICE - 1}, #ARGV)))
end
redis.call("SET", KEYS[3], ARGV[3])
local n = redis.call("HINCRBY", KEYS[4], "n", 1)
redis.call("HSET", KEYS[4], "last", ARGV[2])
return {redis.call("LLEN", KEYS[2]), n}
`,
};

/** How many times a load that must write (a header, a migration) reads again after losing a race. */
const LOAD_ATTEMPTS = 5;

/**
 * A journal in Redis with the file `Journal`'s meaning (it satisfies core's `JournalStore`),
 * so the replica that takes a role over loads what the last one wrote and recovers exactly
 * as after a restart.
 *
 * Keys: `journal:<name>` (a list, one record per element), `journal:<name>:header`
 * (`{"journal":<kind>,"version":<n>}`), `journal:<name>:stamp` (a hash: `n` counts writes,
 * `last` names the latest batch).
 *
 * - **Group commit**: entries added while a write is under way go out together in the next
 *   one (one script call). `apply` runs after the write, `undo` when it failed.
 * - **Fenced**: with `fence`, Redis refuses a write once the role's lease moved on.
 * - **Bounded**: `shouldCompact` is asked between writes; a rewrite replaces the list with
 *   the snapshot in one script (never half visible). It is skipped once another writer has
 *   added records this one has not read (an unfenced journal with several writers): its
 *   snapshot would drop them.
 * - **Versioned**: a newer header is refused (`CB_STATE_NEWER`), an older one migrated once.
 * - **Lost underneath**: a journal whose header vanished (Redis restarted without its
 *   append-only file) is written again from the snapshot before the next append.
 */
export class RedisJournal implements JournalStore {
  /** Where the records are, for messages (a Redis key; the URL is never named). */
  readonly where: string;
  private readonly log: Logger;
  private readonly header: string;
  private readonly keys: { list: string; header: string; stamp: string };
  private readonly writer = randomUUID();
  private batches = 0;
  private queue: JournalEntry[] = [];
  private scheduled: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stats: JournalStats = { lines: 0, bytes: 0, writes: 0, compactions: 0 };
  /** The stamp after this writer's last write or read: anything else means someone else wrote. */
  private stamp = 0;
  /** Another writer added records since this one loaded: no rewrite from this snapshot. */
  private shared = false;
  private closed = false;
  private loading: Promise<JournalContents> | undefined;

  constructor(
    private readonly store: RedisStore,
    private readonly options: RedisJournalOptions,
  ) {
    const list = store.key("journal", options.name);
    this.keys = { list, header: `${list}:header`, stamp: `${list}:stamp` };
    this.where = `Redis key ${list}`;
    this.header = JSON.stringify({ journal: options.kind, version: options.version });
    this.log = (options.logger ?? silentLogger()).child({
      component: "redis-journal",
      kind: options.kind,
      key: list,
    });
  }

  /** Reads the records (none yet: the header is written). Done once, as `Journal.load`. */
  load(): Promise<JournalContents> {
    return (this.loading ??= this.read());
  }

  /** Adds an entry to the next write; the promise settles when that write does. */
  append(entry: JournalEntry | readonly JournalEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(internalError(`the journal ${this.where} is closed`));
    if (Array.isArray(entry)) this.queue.push(...(entry as JournalEntry[]));
    else this.queue.push(entry as JournalEntry);
    if (!this.scheduled) {
      const ready = this.options.commitAt === "turn" ? this.chain.then(endOfTurn) : this.chain;
      const write = ready.then(() => {
        this.scheduled = undefined;
        return this.commit(this.queue.splice(0));
      });
      this.scheduled = write;
      // One failed write fails its own callers only; the next batch still goes out.
      this.chain = write.catch(() => undefined);
    }
    return this.scheduled;
  }

  /** Replaces the list with the owner's snapshot, after the writes under way. */
  compact(): Promise<void> {
    const run = this.chain.then(() => this.rewriteSnapshot());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Counters for status and benchmarks (`bytes` approximates what the list holds). */
  get counters(): Readonly<JournalStats> {
    return this.stats;
  }

  async idle(): Promise<void> {
    await this.chain;
  }

  /** Waits for the writes under way; later appends fail. The connection is the store's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
  }

  private async read(): Promise<JournalContents> {
    for (let attempt = 1; ; attempt++) {
      const replies = await this.store.client
        .multi()
        .get(this.keys.header)
        .lrange(this.keys.list, 0, -1)
        .hget(this.keys.stamp, "n")
        .exec();
      const [headerReply, listReply, stampReply] = replies ?? [];
      for (const reply of [headerReply, listReply, stampReply]) if (reply?.[0]) throw reply[0];
      const headerText = headerReply?.[1] as string | null;
      let lines = (listReply?.[1] as string[] | undefined) ?? [];
      this.stamp = Number(stampReply?.[1] ?? 0);
      const header = headerText === null ? undefined : parseHeader(headerText);
      if (header && header.kind !== this.options.kind) {
        this.log.warn({ found: header.kind }, "journal header names another kind; reading it anyway");
      }
      const foundVersion = header?.version ?? 0;
      if (foundVersion > this.options.version) {
        throw stateNewerError(this.where, foundVersion, this.options.version, { kind: this.options.kind });
      }
      const empty = headerText === null && lines.length === 0;
      if (!empty && foundVersion !== this.options.version) {
        lines = this.options.migrate ? this.options.migrate(lines, foundVersion) : lines;
        this.log.info(
          { from: foundVersion, to: this.options.version, records: lines.length },
          `journal format ${foundVersion} migrated to ${this.options.version}`,
        );
      }
      if (!empty && foundVersion === this.options.version) {
        this.stats = { ...this.stats, lines: lines.length, bytes: approximateBytes(this.header, lines) };
        return { lines, torn: false, foundVersion };
      }
      try {
        await this.replace(lines, { expectStamp: true });
        this.stats.writes++;
        return { lines, torn: false, foundVersion };
      } catch (error) {
        // Another writer started or migrated the journal first: read what it wrote.
        if (!isStale(error) || attempt >= LOAD_ATTEMPTS) throw error;
      }
    }
  }

  private async commit(batch: JournalEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const lines = batch.flatMap((entry) => entry.line.split("\n"));
    try {
      await this.load();
      await this.push(lines);
    } catch (error) {
      for (const entry of batch) entry.undo?.();
      throw error;
    }
    this.stats.writes++;
    for (const entry of batch) entry.apply?.();
    if (this.options.shouldCompact?.(this.stats)) {
      // The batch is written either way: a failed rewrite leaves the longer journal, still valid.
      await this.rewriteSnapshot().catch((error: unknown) =>
        this.log.warn({ err: error }, "compacting the journal failed; will retry"),
      );
    }
  }

  private async push(lines: string[]): Promise<void> {
    let reply: unknown;
    try {
      reply = await this.run(APPEND, lines);
    } catch (error) {
      if (!isGone(error)) throw error;
      this.log.warn(
        "journal header missing in Redis (it lost its data?); writing what this process knows again",
      );
      await this.replace(await this.options.snapshot(), { expectStamp: false });
      this.stats.writes++;
      this.stats.compactions++;
      reply = await this.run(APPEND, lines);
    }
    const [length, stamp] = parseNumbers(reply);
    this.noteStamp(stamp);
    this.stats.lines = length;
    this.stats.bytes += lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
  }

  private async rewriteSnapshot(): Promise<void> {
    await this.load();
    if (this.shared) {
      this.log.debug("journal rewrite skipped: it holds other writers' records this replica has not read");
      return;
    }
    try {
      await this.replace(await this.options.snapshot(), { expectStamp: true });
    } catch (error) {
      if (!isStale(error)) throw error;
      this.markShared();
      return;
    }
    this.stats.writes++;
    this.stats.compactions++;
  }

  /** Header + `lines` as the whole journal, in one script. */
  private async replace(lines: readonly string[], options: { expectStamp: boolean }): Promise<void> {
    const reply = await this.run(REPLACE, [
      this.header,
      options.expectStamp ? String(this.stamp) : "",
      ...lines,
    ]);
    const [length, stamp] = parseNumbers(reply);
    this.stamp = stamp;
    this.stats.lines = length;
    this.stats.bytes = approximateBytes(this.header, lines);
  }

  /** Runs a write script under the fence, with a fresh batch id. */
  private async run(script: LuaScript, args: readonly string[]): Promise<unknown> {
    const fence = this.currentFence();
    const { key, value } = fenceArgs(fence);
    const batch = `${this.writer}:${++this.batches}`;
    try {
      return await runScript(
        this.store.client,
        script,
        [key, this.keys.list, this.keys.header, this.keys.stamp],
        [value, batch, ...args],
      );
    } catch (error) {
      if (!isFencedError(error)) throw error;
      throw new Error(
        `FENCED journal ${this.options.name}: not written — the role's lease is held by another replica now`,
        { cause: error },
      );
    }
  }

  private currentFence(): Fence | undefined {
    if (!this.options.fence) return undefined;
    const fence = this.options.fence();
    if (!fence?.held()) {
      throw new Error(
        `FENCED journal ${this.options.name}: not written — this replica does not hold the role that owns it`,
      );
    }
    return fence;
  }

  private noteStamp(stamp: number): void {
    if (stamp !== this.stamp + 1) this.markShared();
    this.stamp = stamp;
  }

  private markShared(): void {
    if (this.shared) return;
    this.shared = true;
    this.log.info("another writer added to the journal; this replica no longer rewrites it");
  }
}

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function parseHeader(text: string): { kind: string; version: number } | undefined {
  try {
    const parsed = JSON.parse(text) as { journal?: unknown; version?: unknown };
    if (typeof parsed.journal === "string" && typeof parsed.version === "number") {
      return { kind: parsed.journal, version: parsed.version };
    }
  } catch {
    // Unreadable: treated as no header (version 0), as a headerless file is.
  }
  return undefined;
}

/** What the records would take as a file: header and lines, each with its newline. */
function approximateBytes(header: string, lines: readonly string[]): number {
  return lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, Buffer.byteLength(header) + 1);
}

function parseNumbers(reply: unknown): [number, number] {
  if (!Array.isArray(reply) || reply.length < 2)
    throw internalError("unexpected reply from a journal script");
  return [Number(reply[0]), Number(reply[1])];
}

function isGone(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("GONE");
}

function isStale(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("STALE");
}
