import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { assignGroups } from "../../src/cluster/index.js";
import {
  CHAT_ROLE,
  FOLDER_ROLE,
  INBOXES_ROLE,
  nodeRole,
  roleGroups,
  TASKS_ROLE,
} from "../../src/replica/index.js";
import { startRedis, stopAllRedis, type RedisServer } from "../../test/helpers/redis-server.js";
import { benchFolder } from "../lib/fixture.js";
import { Child, sleep } from "../relay/ipc.js";
import { BENCH_BUDGET, GATEWAY_TOKEN } from "../relay/world.js";

/** The config's default: every key the replicas write starts with it. */
export const KEY_PREFIX = "clawbridge:";
/** A mailbox-only node: lines from it to a gateway node are the traffic; answers go to its inbox. */
export const SENDER = "nas-agent";
export const SINGLETON_ROLES = [FOLDER_ROLE, INBOXES_ROLE, CHAT_ROLE, TASKS_ROLE];

/** One replica slot: restarted in place (same config and state folder, a new process and id). */
export interface Slot {
  index: number;
  configPath: string;
  logFile: string;
  child?: Child;
  /** The running process's replica id (`<host>-<pid>-<suffix>`), from its `ready`. */
  id?: string;
  pid?: number;
}

export interface HaWorldOptions {
  label: string;
  /** Gateway nodes (fake gateways in one process), answering "收到" at once. */
  nodes: string[];
  /** How many replica slots (not started: see `startReplica`). */
  replicas: number;
}

/**
 * A team of bridge replicas on one real redis-server (a free loopback port), one shared
 * folder, fake gateways for `nodes` in a process of their own, and a Redis connection of the
 * bench's own to read the leases and the registry. `state.redis` keeps its defaults (leaseMs
 * 3000, claimIdleMs 1000): what users get. `close()` stops (or kills) every process and Redis.
 */
export class HaWorld {
  readonly folder;
  readonly slots: Slot[];
  readonly nodes: string[];
  redisServer!: RedisServer;
  redis!: Redis;
  fakes!: Child;
  private readonly logDir: string;

  private constructor(private readonly options: HaWorldOptions) {
    this.folder = benchFolder(options.label);
    this.nodes = options.nodes;
    this.logDir = path.join(this.folder.base, "logs");
    mkdirSync(this.logDir, { recursive: true });
    this.slots = Array.from({ length: options.replicas }, (_, index) => ({
      index,
      configPath: path.join(this.folder.base, `replica-${index}.json5`),
      logFile: path.join(this.logDir, `replica-${index}.log`),
    }));
  }

  static async start(options: HaWorldOptions): Promise<HaWorld> {
    const world = new HaWorld(options);
    try {
      world.redisServer = await startRedis();
      world.redis = new Redis(world.redisServer.url, { maxRetriesPerRequest: 1, lazyConnect: false });
      world.fakes = new Child("bench/relay/fakes-process.ts", [
        JSON.stringify({
          token: GATEWAY_TOKEN,
          nodes: options.nodes.map((name) => ({
            name,
            script: { kind: "text", text: "收到", chunks: 1, delayMs: 0 },
          })),
        }),
      ]);
      const { urls } = await world.fakes.ready;
      for (const slot of world.slots) writeReplicaConfig(world, slot, urls);
      return world;
    } catch (error) {
      await world.close();
      throw error;
    }
  }

  /** Starts the slot's replica and waits for its `ready` (its id). */
  async startReplica(slot: Slot): Promise<void> {
    const child = new Child("bench/ha/replica-process.ts", [slot.configPath, slot.logFile], {
      env: { NODE_TOKEN: GATEWAY_TOKEN, CLAWBRIDGE_REDIS_URL: this.redisServer.url },
    });
    slot.child = child;
    slot.pid = child.process.pid;
    const { urls } = await child.ready;
    slot.id = urls.replica;
  }

  /** SIGKILL: no lease released, no registry entry removed; resolves once the process is gone. */
  async kill(slot: Slot): Promise<void> {
    const child = slot.child;
    if (!child) return;
    child.process.kill("SIGKILL");
    await child.exited;
    slot.child = undefined;
    slot.id = undefined;
  }

  slotOf(replicaId: string): Slot | undefined {
    return this.slots.find((slot) => slot.id === replicaId);
  }

  /** Who holds `role` according to Redis (`<prefix>lease:<role>` = `<replicaId>|<token>`), and for how much longer. */
  async lease(role: string): Promise<{ owner: string; token: number; pttl: number } | undefined> {
    const key = `${KEY_PREFIX}lease:${role}`;
    const [[, value], [, pttl]] = (await this.redis.multi().get(key).pttl(key).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    if (value === null) return undefined;
    const bar = value.lastIndexOf("|");
    return { owner: value.slice(0, bar), token: Number(value.slice(bar + 1)), pttl };
  }

  /** Every role (node roles and the singletons) → its holder in Redis, or absent when free. */
  async owners(): Promise<Map<string, string>> {
    const roles = this.roles();
    const values = await this.redis.mget(roles.map((role) => `${KEY_PREFIX}lease:${role}`));
    const owners = new Map<string, string>();
    roles.forEach((role, i) => {
      const value = values[i];
      if (value) owners.set(role, value.slice(0, value.lastIndexOf("|")));
    });
    return owners;
  }

  /** The replicas whose registry entry has not expired (read only: the bench changes nothing). */
  async liveReplicas(): Promise<string[]> {
    const ids = (await this.redis.smembers(`${KEY_PREFIX}replicas`)).sort();
    if (ids.length === 0) return [];
    const records = await this.redis.mget(ids.map((id) => `${KEY_PREFIX}replica:${id}`));
    return ids.filter((_, i) => records[i] !== null);
  }

  /** The roles the registry entry of `replicaId` listed at its last heartbeat. */
  async registeredRoles(replicaId: string): Promise<string[]> {
    const record = await this.redis.get(`${KEY_PREFIX}replica:${replicaId}`);
    if (!record) return [];
    return (JSON.parse(record) as { roles: string[] }).roles;
  }

  /** Milliseconds left on the registry entry of `replicaId` (-2 when gone). */
  registryPttl(replicaId: string): Promise<number> {
    return this.redis.pttl(`${KEY_PREFIX}replica:${replicaId}`);
  }

  roles(): string[] {
    return [...this.nodes.map(nodeRole), ...SINGLETON_ROLES];
  }

  /**
   * Settled: exactly the running replicas are live, and every role is held by the replica the
   * shared assignment gives it to (so no handover is still under way). Bounded by `timeoutMs`.
   */
  async waitSettled(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    for (;;) {
      const running = this.slots.flatMap((slot) => (slot.id ? [slot.id] : [])).sort();
      const [live, owners] = await Promise.all([this.liveReplicas(), this.owners()]);
      const wanted = assignGroups(roleGroups(this.nodes), running);
      const settled =
        JSON.stringify(live) === JSON.stringify(running) &&
        [...wanted].every(([role, owner]) => owners.get(role) === owner);
      if (settled) return;
      last = `live ${live.join(",")}; running ${running.join(",")}; held ${JSON.stringify(Object.fromEntries(owners))}`;
      if (performance.now() >= deadline) throw new Error(`roles not settled after ${timeoutMs} ms: ${last}`);
      await sleep(50);
    }
  }

  /** Stops every replica (killed if it does not stop in time), the fakes and Redis; removes the folder. */
  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        await slot.child?.stop(3_000).catch(() => slot.child?.process.kill("SIGKILL"));
        slot.child = undefined;
      }),
    );
    await this.fakes?.stop().catch(() => this.fakes.process.kill("SIGKILL"));
    this.redis?.disconnect();
    await stopAllRedis();
    this.keepLogs();
    this.folder.remove();
  }

  /** `CLAWBRIDGE_BENCH_HA_LOGS=<dir>`: the replicas' logs are copied there before the folder goes. */
  private keepLogs(): void {
    const keep = process.env.CLAWBRIDGE_BENCH_HA_LOGS;
    if (!keep) return;
    const to = path.join(keep, this.options.label);
    mkdirSync(to, { recursive: true });
    for (const file of readdirSync(this.logDir))
      copyFileSync(path.join(this.logDir, file), path.join(to, file));
  }
}

/** The relay bench's config (no Feishu, chat mirroring off, raised budget) with the Redis store. */
function writeReplicaConfig(world: HaWorld, slot: Slot, urls: Record<string, string>): void {
  const config = {
    http: { host: "127.0.0.1", port: 0 },
    ops: { host: "127.0.0.1", port: 0 },
    nodes: [
      ...world.nodes.map((name) => ({ name, url: urls[name], token: "${NODE_TOKEN}" })),
      { name: SENDER },
    ],
    mailbox: { root: world.folder.root, watch: "native" },
    relay: { mirrorToChat: false, budget: BENCH_BUDGET, outboxPerNode: 20_000 },
    // Each replica its own state folder (it is locked); the URL from the environment (a secret).
    state: {
      dir: path.join(world.folder.base, `state-${slot.index}`),
      store: "redis",
      redis: { url: "${CLAWBRIDGE_REDIS_URL}" },
    },
    log: { level: "info" },
  };
  writeFileSync(slot.configPath, JSON.stringify(config, null, 2));
}
