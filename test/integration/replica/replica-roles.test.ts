import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newReplicaId, RedisStore, ReplicaRegistry } from "../../../src/cluster/index.js";
import { silentLogger } from "../../../src/core/index.js";
import { ReplicaRoles, type RolePart } from "../../../src/replica/index.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { waitFor } from "../../helpers/wait.js";

const skip = redisSkipReason();
const LEASE_MS = 1_000;
const NODES = ["a", "b", "c", "d"];

/** One part object per `part()` call, as the app builds them: each knows only what it started. */
interface PartRecord {
  replica: string;
  role: string;
  started: boolean;
  stopped: boolean;
}

describe.skipIf(skip)("ReplicaRoles", () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const running: ReplicaRoles[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const roles of running) await roles.stop();
    for (const store of stores) await store.close();
  });

  function replica(name: string, parts: PartRecord[]): ReplicaRoles {
    const store = new RedisStore({ url: redis.url, keyPrefix: "replica-roles-test:" });
    stores.push(store);
    const id = newReplicaId(name, process.pid);
    const registry = new ReplicaRegistry(store, {
      id,
      host: name,
      pid: process.pid,
      version: "0",
      ttlMs: LEASE_MS,
    });
    const roles = new ReplicaRoles({
      store,
      registry,
      replicaId: id,
      leaseMs: LEASE_MS,
      gatewayNodes: NODES,
      part: (role): RolePart => {
        const record: PartRecord = { replica: name, role, started: false, stopped: false };
        parts.push(record);
        return {
          start: async () => {
            record.started = true;
          },
          stop: async () => {
            record.stopped = true;
          },
        };
      },
      logger: silentLogger(),
    });
    running.push(roles);
    return roles;
  }

  it("stops the very part it started when a role moves to a joining replica", async () => {
    const parts: PartRecord[] = [];
    const first = replica("r1", parts);
    await first.start();
    // The nodes and the four single roles (folder, inboxes, chat, tasks).
    expect(first.held()).toHaveLength(NODES.length + 4);

    const second = replica("r2", parts);
    await second.start();
    // The roles spread: the first hands some over, the second takes them.
    await waitFor(() => (second.held().length >= 3 && first.held().length >= 3 ? true : undefined), {
      what: "the roles spread over both replicas",
      timeoutMs: 10_000,
    });
    const movedAway = parts.filter((p) => p.replica === "r1" && p.started && !first.held().includes(p.role));
    expect(movedAway.length).toBeGreaterThan(0);
    // Every part r1 started for a role it no longer holds was stopped, and only started parts were.
    for (const part of movedAway) expect(part.stopped).toBe(true);
    expect(parts.filter((p) => p.stopped && !p.started)).toEqual([]);
  });
});
