import { randomBytes } from "node:crypto";
import { z } from "zod";
import { systemClock, type Clock } from "../core/index.js";
import type { RedisStore } from "./redis-client.js";
import { runScript, type LuaScript } from "./lua-script.js";

/** What a replica says about itself on every heartbeat. Times are epoch ms by its own clock. */
export interface ReplicaInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  /** The roles it held at that heartbeat. */
  roles: string[];
  startedAt: number;
  heartbeatAt: number;
}

const replicaInfoSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number(),
  version: z.string(),
  roles: z.array(z.string()),
  startedAt: z.number(),
  heartbeatAt: z.number(),
});

export interface ReplicaRegistryOptions {
  /** From {@link newReplicaId}: unique per process, never reused. */
  id: string;
  host: string;
  pid: number;
  version: string;
  /** A replica that has not heartbeaten for this long is dead. */
  ttlMs: number;
  clock?: Clock;
}

/** How long `doctor` remembers a replica after its last heartbeat. */
const SEEN_FOR_MS = 24 * 60 * 60 * 1000;

// KEYS[1] replica:<id>, KEYS[2] replicas, KEYS[3] replicas:seen; ARGV[1] id, ARGV[2] record,
// ARGV[3] ttl ms, ARGV[4] forget records whose heartbeat is older than this. One script so a
// replica is never in the set without its key or the other way round.
const HEARTBEAT: LuaScript = {
  name: "clawbridgeReplicaHeartbeat",
  keys: 3,
  lua: `
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
redis.call("SADD", KEYS[2], ARGV[1])
redis.call("HSET", KEYS[3], ARGV[1], ARGV[2])
local seen = redis.call("HGETALL", KEYS[3])
local cutoff = tonumber(ARGV[4])
for i = 1, #seen, 2 do
  local ok, record = pcall(cjson.decode, seen[i + 1])
  if not ok or type(record) ~= "table" or type(record.heartbeatAt) ~= "number" or record.heartbeatAt < cutoff then
    redis.call("HDEL", KEYS[3], seen[i])
  end
end
return 1
`,
};

// KEYS[1] replicas, KEYS[2..] replica:<id> of each member; ARGV[i] the member of KEYS[i + 1].
// Answers the records that still exist and drops the dead from the set, in one step so a
// replica heartbeating meanwhile is not dropped by mistake.
const LIVE: LuaScript = {
  name: "clawbridgeReplicaLive",
  keys: "any",
  lua: `
local alive = {}
for i = 1, #ARGV do
  local record = redis.call("GET", KEYS[i + 1])
  if record then
    alive[#alive + 1] = record
  else
    redis.call("SREM", KEYS[1], ARGV[i])
  end
end
return alive
`,
};

/**
 * The replicas sharing this Redis: each heartbeats a key that expires after `ttlMs`, so a
 * crashed one drops out by itself. `replicas:seen` keeps the last record of each for a day,
 * so `doctor` can also name the ones that are gone.
 */
export class ReplicaRegistry {
  readonly id: string;
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly setKey: string;
  private readonly seenKey: string;

  constructor(
    private readonly store: RedisStore,
    private readonly options: ReplicaRegistryOptions,
  ) {
    if (!(options.ttlMs > 0)) throw new Error(`replica ttlMs must be positive, got ${options.ttlMs}`);
    this.id = options.id;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.setKey = store.key("replicas");
    this.seenKey = store.key("replicas", "seen");
  }

  /** Says this replica is alive and holds `roles`. */
  async heartbeat(roles: readonly string[]): Promise<void> {
    const now = this.clock.now();
    const info: ReplicaInfo = {
      id: this.id,
      host: this.options.host,
      pid: this.options.pid,
      version: this.options.version,
      roles: [...roles].sort(),
      startedAt: this.startedAt,
      heartbeatAt: now,
    };
    await runScript(
      this.store.client,
      HEARTBEAT,
      [this.replicaKey(this.id), this.setKey, this.seenKey],
      [this.id, JSON.stringify(info), Math.round(this.options.ttlMs), now - SEEN_FOR_MS],
    );
  }

  /** The replicas alive now (their key has not expired), sorted by id. */
  async live(): Promise<ReplicaInfo[]> {
    const ids = (await this.store.client.smembers(this.setKey)).sort();
    if (ids.length === 0) return [];
    const records = await runScript(
      this.store.client,
      LIVE,
      [this.setKey, ...ids.map((id) => this.replicaKey(id))],
      ids,
    );
    const alive = Array.isArray(records) ? records.flatMap((record) => parseInfo(record) ?? []) : [];
    return alive.sort(byId);
  }

  /** Every replica seen in the last day, alive or not, for `doctor`. */
  async list(): Promise<(ReplicaInfo & { alive: boolean })[]> {
    const [seen, liveIds] = await Promise.all([
      this.store.client.hgetall(this.seenKey),
      this.live().then((replicas) => new Map(replicas.map((replica) => [replica.id, replica]))),
    ]);
    const all = new Map<string, ReplicaInfo & { alive: boolean }>();
    for (const record of Object.values(seen)) {
      const info = parseInfo(record);
      if (info) all.set(info.id, { ...info, alive: false });
    }
    for (const [id, info] of liveIds) all.set(id, { ...info, alive: true });
    return [...all.values()].sort(byId);
  }

  /** Leaves the live set at once (a clean stop); the `seen` record stays for `doctor`. */
  async remove(): Promise<void> {
    await this.store.client.multi().del(this.replicaKey(this.id)).srem(this.setKey, this.id).exec();
  }

  private replicaKey(id: string): string {
    return this.store.key("replica", id);
  }
}

/** `<host>-<pid>-<4 random base32 chars>`: readable in logs, never reused by a restart. */
export function newReplicaId(host: string, pid: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const suffix = [...randomBytes(4)].map((byte) => alphabet[byte % 32]).join("");
  // Ids go into keys and lease values (`<owner>|<token>`): keep to a safe alphabet.
  const safeHost = host.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 64) || "host";
  return `${safeHost}-${pid}-${suffix}`;
}

function parseInfo(record: unknown): ReplicaInfo | undefined {
  if (typeof record !== "string") return undefined;
  try {
    const parsed = replicaInfoSchema.safeParse(JSON.parse(record));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
