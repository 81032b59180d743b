import { FENCE_CHECK_LUA, fenceArgs, type Fence } from "./fence.js";
import { runScript, type LuaScript } from "./lua-script.js";
import type { RedisStore } from "./redis-client.js";

// The shapes of mailbox's `InboxCheckpoint`, `DeliveredEntry` and `InboxMemory`, matched
// structurally: cluster/ does not import mailbox/, and the app hands this ledger to the tailer.

/** Where the tailer stopped reading one inbox. */
export interface TailCheckpoint {
  offset: number;
  headHash?: string;
  headLength?: number;
}

export interface TailDeliveredEntry {
  id: string;
  end: number;
}

export interface TailInboxMemory {
  checkpoint?: TailCheckpoint;
  /** Recent delivered ids, oldest first (bounded). */
  deliveredIds: string[];
  /** Furthest `end` delivered since the file was last found rotated; 0 if none. */
  deliveredEnd: number;
}

export interface RedisTailLedgerOptions {
  /** Recent delivered ids kept per inbox; default 10,000 (as mailbox's `FileTailLedger`). */
  keepIds?: number;
}

// Lua's unpack() is limited by its C stack: ids are pushed in slices of this many.
const PUSH_SLICE = 1_000;

// KEYS: lease, inbox set, inbox hash, id list. ARGV: fence value, inbox, keepIds, the
// chunk's furthest end, then the ids.
const DELIVERED: LuaScript = {
  name: "clawbridgeTailDelivered",
  keys: 4,
  lua: `${FENCE_CHECK_LUA}
redis.call("SADD", KEYS[2], ARGV[2])
for i = 5, #ARGV, ${PUSH_SLICE} do
  redis.call("RPUSH", KEYS[4], unpack(ARGV, i, math.min(i + ${PUSH_SLICE - 1}, #ARGV)))
end
redis.call("LTRIM", KEYS[4], -tonumber(ARGV[3]), -1)
local known = tonumber(redis.call("HGET", KEYS[3], "deliveredEnd") or "0")
if tonumber(ARGV[4]) > known then redis.call("HSET", KEYS[3], "deliveredEnd", ARGV[4]) end
return 0
`,
};

// KEYS: lease, inbox set, inbox hash. ARGV: fence value, inbox. Offsets no longer apply; ids do.
const ROTATION: LuaScript = {
  name: "clawbridgeTailRotation",
  keys: 3,
  lua: `${FENCE_CHECK_LUA}
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("HSET", KEYS[3], "deliveredEnd", "0")
return 0
`,
};

// KEYS: lease, inbox set, inbox hash. ARGV: fence value, inbox, checkpoint (JSON).
const CHECKPOINT: LuaScript = {
  name: "clawbridgeTailCheckpoint",
  keys: 3,
  lua: `${FENCE_CHECK_LUA}
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("HSET", KEYS[3], "checkpoint", ARGV[3])
return 0
`,
};

/**
 * The tailer's cursors in Redis, so that whichever replica holds the tailer role next
 * resumes where the last one stopped. Satisfies mailbox's `TailLedger` with the same
 * meaning as its `FileTailLedger`: per inbox the checkpoint, the furthest delivered end
 * since the last rotation, and the most recent `keepIds` delivered ids.
 *
 * Every write is fenced by the tailer role's lease inside Redis: a replica that lost the
 * role (paused past its lease) gets a `FENCED` error instead of moving the cursors back.
 *
 * Keys: `tail:inboxes` (set of inbox names), `tail:state:<inbox>` (hash: `checkpoint`,
 * `deliveredEnd`), `tail:ids:<inbox>` (list, oldest first).
 */
export class RedisTailLedger {
  private readonly keepIds: number;

  constructor(
    private readonly store: RedisStore,
    /** The tailer role's fence. */
    private readonly fence: Fence,
    options: RedisTailLedgerOptions = {},
  ) {
    this.keepIds = options.keepIds ?? 10_000;
  }

  async load(): Promise<Map<string, TailInboxMemory>> {
    const inboxes = (await this.store.client.smembers(this.store.key("tail", "inboxes"))).sort();
    const result = new Map<string, TailInboxMemory>();
    if (inboxes.length === 0) return result;
    // One transaction: each inbox's hash and ids as of the same moment.
    const read = this.store.client.multi();
    for (const inbox of inboxes) {
      read.hgetall(this.stateKey(inbox));
      // Bounded on reading too, as the file ledger is: one written with a larger bound loads trimmed.
      read.lrange(this.idsKey(inbox), -this.keepIds, -1);
    }
    const replies = (await read.exec()) ?? [];
    inboxes.forEach((inbox, i) => {
      const [hashError, hash] = replies[2 * i] ?? [];
      const [idsError, ids] = replies[2 * i + 1] ?? [];
      if (hashError) throw hashError;
      if (idsError) throw idsError;
      const fields = (hash ?? {}) as Record<string, string>;
      const checkpoint = parseCheckpoint(fields.checkpoint);
      const deliveredEnd = Number(fields.deliveredEnd ?? 0);
      result.set(inbox, {
        ...(checkpoint ? { checkpoint } : {}),
        deliveredIds: (ids ?? []) as string[],
        deliveredEnd: Number.isFinite(deliveredEnd) ? deliveredEnd : 0,
      });
    });
    return result;
  }

  async recordDelivered(inbox: string, entries: readonly TailDeliveredEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const furthest = entries.reduce((max, entry) => Math.max(max, entry.end), 0);
    // Only the newest keepIds would survive the trim anyway.
    const ids = entries.slice(-this.keepIds).map((entry) => entry.id);
    await this.fenced(
      DELIVERED,
      [this.stateKey(inbox), this.idsKey(inbox)],
      [inbox, this.keepIds, furthest, ...ids],
    );
  }

  async recordRotation(inbox: string): Promise<void> {
    await this.fenced(ROTATION, [this.stateKey(inbox)], [inbox]);
  }

  async saveCheckpoint(inbox: string, checkpoint: TailCheckpoint): Promise<void> {
    await this.fenced(CHECKPOINT, [this.stateKey(inbox)], [inbox, JSON.stringify(checkpoint)]);
  }

  /** Nothing to close: the store belongs to whoever opened it. */
  async close(): Promise<void> {}

  /** Runs a write script after the fence check; KEYS[2] is always the inbox set. */
  private async fenced(script: LuaScript, keys: string[], args: (string | number)[]): Promise<void> {
    const fence = fenceArgs(this.fence);
    await runScript(
      this.store.client,
      script,
      [fence.key, this.store.key("tail", "inboxes"), ...keys],
      [fence.value, ...args],
    );
  }

  private stateKey(inbox: string): string {
    return this.store.key("tail", "state", inbox);
  }

  private idsKey(inbox: string): string {
    return this.store.key("tail", "ids", inbox);
  }
}

function parseCheckpoint(text: string | undefined): TailCheckpoint | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<TailCheckpoint> | null;
    return typeof value?.offset === "number" ? (value as TailCheckpoint) : undefined;
  } catch {
    // Unreadable: start over from the delivered end; the ids still prevent repeats.
    return undefined;
  }
}
