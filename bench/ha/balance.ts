import { nodeRole } from "../../src/replica/index.js";
import { atMost, round, type BenchResult } from "../lib/report.js";
import { machine } from "../relay/world.js";
import { HaWorld, SINGLETON_ROLES } from "./world.js";

const NODES = 30;
const REPLICAS = 3;
const GOAL = 1.5;
/** Three replicas join one after the other; the roles must have settled well within this. */
const SETTLE_MS = 30_000;

/**
 * Nodes per replica with 30 gateway nodes and 3 replicas: the three start one after the other
 * (as in a rolling start), and once every role is held where the shared assignment puts it,
 * the node roles' holders are read from Redis. max ÷ min of the counts.
 */
export async function balanceBenchmark(): Promise<BenchResult> {
  const nodes = Array.from({ length: NODES }, (_, k) => `node-${k}`);
  const world = await HaWorld.start({ label: "ha-balance", nodes, replicas: REPLICAS });
  try {
    const started = performance.now();
    for (const slot of world.slots) await world.startReplica(slot);
    await world.waitSettled(SETTLE_MS);
    const settledMs = performance.now() - started;
    const owners = await world.owners();
    const counts = new Map(world.slots.map((slot) => [slot.id!, 0]));
    for (const node of nodes) {
      const owner = owners.get(nodeRole(node));
      if (owner === undefined) throw new Error(`node:${node} has no holder`);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const perReplica = world.slots.map((slot) => counts.get(slot.id!) ?? 0);
    const max = Math.max(...perReplica);
    const min = Math.min(...perReplica);
    return atMost("ha.balance", min === 0 ? Infinity : max / min, "ratio", GOAL, {
      nodes: NODES,
      replicas: REPLICAS,
      nodesPerReplica: perReplica,
      singletons: Object.fromEntries(
        SINGLETON_ROLES.map((role) => [role, world.slotOf(owners.get(role) ?? "")?.index ?? null]),
      ),
      startToSettledMs: round(settledMs, 0),
      measured:
        "node roles' holders in Redis (lease:node:<name>) once every role sits where the assignment puts it",
      ...machine(),
    });
  } finally {
    await world.close();
  }
}
