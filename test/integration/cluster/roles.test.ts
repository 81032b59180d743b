import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Lease,
  RedisStore,
  ReplicaRegistry,
  RoleManager,
  newReplicaId,
  type ReleaseReason,
} from "../../../src/cluster/index.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const NODES = ["a", "b", "c", "d", "e", "f", "g", "h", "i"].map((name) => `node:${name}`);
const SINGLETONS = ["folder", "chat"];
const ALL_ROLES = [...NODES, ...SINGLETONS];
const GROUPS = [
  { name: "nodes", roles: NODES },
  { name: "singletons", roles: SINGLETONS },
];
const TTL_MS = 600;

interface RoleEvent {
  seq: number;
  replica: string;
  kind: "acquire" | "release";
  role: string;
  reason?: ReleaseReason;
  token?: number;
}

interface Replica {
  id: string;
  store: RedisStore;
  registry: ReplicaRegistry;
  manager: RoleManager;
}

const skip = redisSkipReason();

describe.skipIf(skip)("RoleManager: roles spread over replicas through Redis leases", () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const managers: RoleManager[] = [];
  let clusters = 0;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: true });
  });
  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    for (const store of stores) await store.close();
  });

  /** A fresh cluster (own key prefix) to which replicas are added one by one; every callback is logged in order. */
  function cluster() {
    const keyPrefix = `roles-test-${++clusters}:`;
    const events: RoleEvent[] = [];
    let seq = 0;
    let hosts = 0;
    const add = async (): Promise<Replica> => {
      const host = `host${++hosts}`;
      const id = newReplicaId(host, 1000 + hosts);
      const store = new RedisStore({ url: redis.url, keyPrefix, name: id });
      stores.push(store);
      await store.ready();
      const registry = new ReplicaRegistry(store, {
        id,
        host,
        pid: 1000 + hosts,
        version: "9.9.9",
        ttlMs: TTL_MS,
      });
      const manager = new RoleManager({
        store,
        registry,
        replicaId: id,
        groups: GROUPS,
        ttlMs: TTL_MS,
        onAcquire: async (role, fence) => {
          events.push({ seq: ++seq, replica: id, kind: "acquire", role, token: fence.token });
        },
        onRelease: async (role, reason) => {
          events.push({ seq: ++seq, replica: id, kind: "release", role, reason });
        },
      });
      managers.push(manager);
      return { id, store, registry, manager };
    };
    return { keyPrefix, events, add };
  }

  /** Ticks every replica in turn until `done` holds; at most `max` rounds. Returns the rounds taken. */
  async function rounds(
    replicas: readonly Replica[],
    done: () => boolean,
    max = 12,
    pauseMs = 0,
  ): Promise<number> {
    for (let round = 1; round <= max; round++) {
      for (const replica of replicas) await replica.manager.tick();
      if (done()) return round;
      if (pauseMs) await sleep(pauseMs);
    }
    throw new Error(`not settled after ${max} rounds: ${describeHolders(replicas)}`);
  }

  /** Every role held by exactly one of `replicas`, and nodes spread evenly among them. */
  function settled(replicas: readonly Replica[]): boolean {
    const holders = ALL_ROLES.map((role) => replicas.filter((replica) => replica.manager.holds(role)).length);
    if (holders.some((count) => count !== 1)) return false;
    const nodeCounts = replicas.map(
      (replica) => replica.manager.heldRoles().filter((role) => role.startsWith("node:")).length,
    );
    return Math.max(...nodeCounts) - Math.min(...nodeCounts) <= 1;
  }

  function describeHolders(replicas: readonly Replica[]): string {
    return replicas.map((replica) => `${replica.id}=[${replica.manager.heldRoles().join(",")}]`).join(" ");
  }

  /** Redis' view: the holder of each role, by a lease object that never acquires. */
  async function redisHolders(
    store: RedisStore,
  ): Promise<Map<string, { owner: string; token: number } | undefined>> {
    const probe = (role: string) => new Lease(store, { role, owner: "probe", ttlMs: TTL_MS }).holder();
    return new Map(await Promise.all(ALL_ROLES.map(async (role) => [role, await probe(role)] as const)));
  }

  async function expectRedisAgrees(replicas: readonly Replica[]): Promise<void> {
    const holders = await redisHolders(replicas[0]!.store);
    for (const role of ALL_ROLES) {
      const holder = replicas.find((replica) => replica.manager.holds(role))!;
      expect(holders.get(role)).toEqual({ owner: holder.id, token: holder.manager.holds(role)!.token });
    }
  }

  it("holds every role on exactly one of three replicas, nodes 3/3/3 and the singletons apart", async () => {
    const { add } = cluster();
    const replicas = [await add(), await add(), await add()];
    await rounds(replicas, () => settled(replicas));
    const nodeCounts = replicas.map(
      (replica) => replica.manager.heldRoles().filter((role) => role.startsWith("node:")).length,
    );
    expect(nodeCounts).toEqual([3, 3, 3]);
    const singletonHolders = SINGLETONS.map(
      (role) => replicas.find((replica) => replica.manager.holds(role))!.id,
    );
    expect(new Set(singletonHolders).size).toBe(2);
    await expectRedisAgrees(replicas);
    for (const replica of replicas) {
      for (const role of replica.manager.heldRoles()) expect(replica.manager.holds(role)!.held()).toBe(true);
    }

    // The registry, as `doctor` reads it: one more round so each heartbeat carries the roles held now.
    await rounds(replicas, () => true);
    const listed = await replicas[0]!.registry.list();
    expect(listed.map((entry) => entry.id)).toEqual(replicas.map((replica) => replica.id).sort());
    for (const entry of listed) {
      const replica = replicas.find((candidate) => candidate.id === entry.id)!;
      expect(entry).toMatchObject({ alive: true, version: "9.9.9", roles: replica.manager.heldRoles() });
      expect(entry.host).toMatch(/^host\d$/);
      expect(entry.pid).toBeGreaterThan(1000);
      expect(entry.heartbeatAt).toBeGreaterThanOrEqual(entry.startedAt);
    }
    expect((await replicas[1]!.registry.live()).map((entry) => entry.id)).toEqual(
      replicas.map((r) => r.id).sort(),
    );
  });

  it("moves a stopped replica's roles to the others within a few ticks, handing them over at once", async () => {
    const { events, add } = cluster();
    const replicas = [await add(), await add(), await add()];
    await rounds(replicas, () => settled(replicas));
    const [gone, ...rest] = [replicas[2]!, replicas[0]!, replicas[1]!];
    const itsRoles = gone.manager.heldRoles();
    expect(itsRoles.length).toBeGreaterThan(0);

    await gone.manager.stop();
    expect(gone.manager.heldRoles()).toEqual([]);
    const stops = events.filter((event) => event.replica === gone.id && event.kind === "release");
    expect(stops.map((event) => event.role).sort()).toEqual(itsRoles);
    expect(new Set(stops.map((event) => event.reason))).toEqual(new Set(["stop"]));

    // No waiting for expiry: the leases were deleted, so the next rounds take them.
    const taken = await rounds(rest, () => settled(rest), 4);
    expect(taken).toBeLessThanOrEqual(3);
    await expectRedisAgrees(rest);
    const listed = await rest[0]!.registry.list();
    expect(listed.find((entry) => entry.id === gone.id)?.alive).toBe(false);
    expect(listed.filter((entry) => entry.alive)).toHaveLength(2);
  });

  it("takes a paused replica's roles once its leases run out, with higher tokens; the paused one knows", async () => {
    const { events, add } = cluster();
    const replicas = [await add(), await add(), await add()];
    await rounds(replicas, () => settled(replicas));
    const paused = replicas[1]!;
    const others = [replicas[0]!, replicas[2]!];
    const pausedFences = new Map(
      paused.manager.heldRoles().map((role) => [role, paused.manager.holds(role)!]),
    );
    expect(pausedFences.size).toBeGreaterThan(0);

    // `paused` stops ticking (SIGSTOP) without letting go; the others tick on in real time.
    await rounds(others, () => settled(others), 40, 100);
    for (const [role, old] of pausedFences) {
      const holder = others.find((replica) => replica.manager.holds(role))!;
      expect(holder.manager.holds(role)!.token).toBeGreaterThan(old.token);
      // Still in its map (it has not run since), but its own clock says the lease is gone.
      expect(paused.manager.holds(role)).toBe(old);
      expect(old.held()).toBe(false);
    }
    await expectRedisAgrees(others);

    // It resumes: it drops the roles as lost, then rejoins and gets its share again.
    const resumedAt = events.length;
    await paused.manager.tick();
    const lost = events
      .slice(resumedAt)
      .filter((event) => event.replica === paused.id && event.kind === "release");
    expect(lost.map((event) => event.role).sort()).toEqual([...pausedFences.keys()].sort());
    expect(new Set(lost.map((event) => event.reason))).toEqual(new Set(["lost"]));
    await rounds(replicas, () => settled(replicas) && paused.manager.heldRoles().length > 0);
    await expectRedisAgrees(replicas);
  });

  it("rebalances onto a replica that joins: the old owner lets go before the new one starts", async () => {
    const { events, add } = cluster();
    const first = [await add(), await add()];
    await rounds(first, () => settled(first));
    const before = new Map(ALL_ROLES.map((role) => [role, first.find((r) => r.manager.holds(role))!.id]));

    const joinedAt = events.length;
    const joined = await add();
    const all = [...first, joined];
    await rounds(all, () => settled(all));
    await expectRedisAgrees(all);
    const moved = ALL_ROLES.filter(
      (role) => !all.find((r) => r.id === before.get(role))!.manager.holds(role),
    );
    expect(moved.length).toBeGreaterThanOrEqual(3);
    const since = events.slice(joinedAt);
    for (const role of moved) {
      const handedOver = since.find(
        (event) => event.role === role && event.replica === before.get(role) && event.kind === "release",
      );
      const started = since.findLast((event) => event.role === role && event.kind === "acquire");
      expect(handedOver?.reason).toBe("rebalance");
      expect(started).toBeDefined();
      expect(handedOver!.seq).toBeLessThan(started!.seq);
    }
    // Roles that stayed were never released.
    for (const role of ALL_ROLES.filter((r) => !moved.includes(r))) {
      expect(since.filter((event) => event.role === role && event.kind === "release")).toEqual([]);
    }
  });

  it("on its own timer: a replica cut off from Redis loses its roles by its clock; the others take them", async () => {
    const { events, add } = cluster();
    const replicas = [await add(), await add(), await add()];
    for (const replica of replicas) await replica.manager.start();
    await waitFor(() => settled(replicas), { timeoutMs: 10_000, what: () => describeHolders(replicas) });
    const [cut, ...rest] = replicas as [Replica, Replica, Replica];
    const itsRoles = cut.manager.heldRoles();
    const changes: string[][] = [];
    cut.manager.on("change", (roles) => changes.push(roles));

    // Its connection drops for good (a crash as Redis sees it; the process itself runs on).
    cut.store.client.disconnect();
    await waitFor(() => cut.manager.heldRoles().length === 0, {
      timeoutMs: 5_000,
      what: "the cut-off replica to let go",
    });
    const lost = events.filter((event) => event.replica === cut.id && event.kind === "release");
    expect(lost.map((event) => event.role).sort()).toEqual(itsRoles);
    expect(new Set(lost.map((event) => event.reason))).toEqual(new Set(["lost"]));
    expect(changes.at(-1)).toEqual([]);

    await waitFor(() => settled(rest), { timeoutMs: 5_000, what: () => describeHolders(rest) });
    await expectRedisAgrees(rest);
    await cut.manager.stop();
    for (const replica of rest) await replica.manager.stop();
  });

  it("while Redis is down, every replica lets go by its clock; once it is back they take the roles again, with higher tokens", async () => {
    const { events, add } = cluster();
    const replicas = [await add(), await add()];
    for (const replica of replicas) await replica.manager.start();
    await waitFor(() => settled(replicas), { timeoutMs: 10_000, what: () => describeHolders(replicas) });
    const tokens = new Map(
      ALL_ROLES.map((role) => [
        role,
        replicas.find((r) => r.manager.holds(role))!.manager.holds(role)!.token,
      ]),
    );

    await redis.stop("SIGKILL");
    try {
      await waitFor(() => replicas.every((replica) => replica.manager.heldRoles().length === 0), {
        timeoutMs: 5_000,
        what: () => `replicas to let go without Redis: ${describeHolders(replicas)}`,
      });
      const lost = events.filter((event) => event.kind === "release");
      expect(lost.map((event) => event.role).sort()).toEqual([...ALL_ROLES].sort());
      expect(new Set(lost.map((event) => event.reason))).toEqual(new Set(["lost"]));
    } finally {
      await redis.restart();
    }

    await waitFor(() => settled(replicas), { timeoutMs: 10_000, what: () => describeHolders(replicas) });
    for (const role of ALL_ROLES) {
      const fence = replicas.find((r) => r.manager.holds(role))!.manager.holds(role)!;
      expect(fence.token).toBeGreaterThan(tokens.get(role)!);
    }
    for (const replica of replicas) await replica.manager.stop();
  });
});
