import { appendFileSync } from "node:fs";
import { nodeRole } from "../../src/replica/index.js";
import { atMost, epochMs, percentile, round, type BenchResult } from "../lib/report.js";
import type { Arrival } from "../relay/ipc.js";
import { sleep } from "../relay/ipc.js";
import { machine } from "../relay/world.js";
import { HaWorld, SENDER } from "./world.js";

const NODES = ["node-0", "node-1", "node-2"];
const REPLICAS = 3;
const KILLS = 20;
/** One mailbox line to every node this often, all through the run. */
const TRAFFIC_MS = 50;
const POLL_MS = 20;
/** A failover slower than this counts as this (and `timedOut`); the goal is 5 s. */
const FAILOVER_TIMEOUT_MS = 20_000;
const SETTLE_MS = 30_000;
const GOAL_MS = 5_000;

interface Sample {
  round: number;
  node: string;
  /** SIGKILL → the first agent request at the fakes for a line written after the kill. */
  ms: number;
  timedOut: boolean;
  /** What was left of the node's lease in Redis at the kill. */
  leaseLeftMs: number;
  /** What was left of the killed replica's registry entry at the kill. */
  registryLeftMs: number;
  /** SIGKILL → the node's lease seen (polled every 20 ms) under another replica. */
  takenMs: number | null;
  /** Roles the killed replica held besides the node's (from its last heartbeat). */
  alsoHeld: string[];
}

/**
 * Issue 15: SIGKILL the replica that owns a node while mailbox lines flow to it, and time
 * until another replica delivers to that node. Three replicas (processes of their own) and
 * three gateway nodes; a line to every node every 50 ms from a mailbox-only sender. Each round
 * reads the owner of `node:<name>` from Redis, kills it at t0, and waits for the first `agent`
 * request at the node's fake gateway for a line written after t0 (a delivery already under
 * way at the kill does not count). Then the killed slot starts again (a new replica id) and
 * the roles settle before the next round; the target node rotates.
 */
export async function failoverBenchmark(): Promise<BenchResult> {
  const world = await HaWorld.start({ label: "ha-failover", nodes: NODES, replicas: REPLICAS });
  const written = new Map<string, number>();
  let traffic: NodeJS.Timeout | undefined;
  try {
    for (const slot of world.slots) await world.startReplica(slot);
    await world.waitSettled(SETTLE_MS);

    let seq = 0;
    const writeLines = () => {
      for (const node of NODES) {
        const key = `ha-${node}-${seq}`;
        const at = epochMs();
        written.set(key, at);
        appendFileSync(world.folder.inbox(node), `${line(key, node, seq)}\n`);
      }
      seq++;
    };
    traffic = setInterval(writeLines, TRAFFIC_MS);
    const drain = async (): Promise<Arrival[]> =>
      (await world.fakes.call({ type: "drain" }, "arrivals")).arrivals;
    await flowing(world, written, drain, epochMs());

    const samples: Sample[] = [];
    const started = performance.now();
    for (let r = 0; r < KILLS; r++) {
      const node = NODES[r % NODES.length]!;
      const role = nodeRole(node);
      const lease = await world.lease(role);
      const slot = lease && world.slotOf(lease.owner);
      if (!lease || !slot?.child) throw new Error(`round ${r}: ${role} is held by no running replica`);
      const [alsoHeld, registryLeftMs] = await Promise.all([
        world.registeredRoles(lease.owner),
        world.registryPttl(lease.owner),
      ]);
      await drain();

      const t0 = epochMs();
      slot.child.process.kill("SIGKILL");
      let takenMs: number | null = null;
      let firstAt: number | undefined;
      while (firstAt === undefined && epochMs() - t0 < FAILOVER_TIMEOUT_MS) {
        await sleep(POLL_MS);
        const [arrivals, now] = await Promise.all([drain(), world.lease(role)]);
        if (takenMs === null && now && now.owner !== lease.owner) takenMs = epochMs() - t0;
        for (const arrival of arrivals) {
          const at = written.get(arrival.key);
          if (arrival.node === node && at !== undefined && at >= t0)
            firstAt = Math.min(firstAt ?? Infinity, arrival.at);
        }
      }
      samples.push({
        round: r,
        node,
        ms: firstAt === undefined ? FAILOVER_TIMEOUT_MS : firstAt - t0,
        timedOut: firstAt === undefined,
        leaseLeftMs: lease.pttl,
        registryLeftMs,
        takenMs: takenMs === null ? null : round(takenMs, 0),
        alsoHeld: alsoHeld.filter((held) => held !== role),
      });

      await world.kill(slot);
      await world.startReplica(slot);
      await world.waitSettled(SETTLE_MS);
      await flowing(world, written, drain, epochMs());
    }
    const ms = samples.map((s) => s.ms);
    const timedOut = samples.filter((s) => s.timedOut).length;
    const afterTake = samples.flatMap((s) => (s.takenMs === null || s.timedOut ? [] : [s.ms - s.takenMs]));
    return atMost("ha.failover_ms", percentile(ms, 99), "ms", GOAL_MS, {
      kills: samples.length,
      timedOut,
      p50: round(percentile(ms, 50), 0),
      p99: round(percentile(ms, 99), 0),
      max: round(Math.max(...ms), 0),
      min: round(Math.min(...ms), 0),
      takenP50: round(
        percentile(
          samples.flatMap((s) => s.takenMs ?? []),
          50,
        ),
        0,
      ),
      takenMax: round(Math.max(...samples.flatMap((s) => s.takenMs ?? [])), 0),
      deliveryAfterTakeP50: round(percentile(afterTake, 50), 0),
      deliveryAfterTakeMax: round(Math.max(...afterTake), 0),
      samplesMs: ms.map((v) => round(v, 0)),
      rounds: samples.map((s) => ({
        node: s.node,
        ms: round(s.ms, 0),
        takenMs: s.takenMs,
        leaseLeftMs: s.leaseLeftMs,
        registryLeftMs: s.registryLeftMs,
        alsoHeld: s.alsoHeld.join(",") || "-",
      })),
      leaseMs: 3_000,
      claimIdleMs: 1_000,
      replicas: REPLICAS,
      nodes: NODES.length,
      trafficEveryMs: TRAFFIC_MS,
      measured:
        "SIGKILL of the node's lease holder → first agent request at the node's fake for a mailbox line written after the kill",
      takenMsMeans: "SIGKILL → the node's lease under another replica (Redis polled every 20 ms)",
      roundsSeconds: round((performance.now() - started) / 1000, 1),
      ...machine(),
    });
  } finally {
    clearInterval(traffic);
    await world.close();
  }
}

/** Waits until every node got a line written after `since`: deliveries flow everywhere. */
async function flowing(
  world: HaWorld,
  written: Map<string, number>,
  drain: () => Promise<Arrival[]>,
  since: number,
): Promise<void> {
  const waiting = new Set(world.nodes);
  const deadline = performance.now() + SETTLE_MS;
  while (waiting.size > 0) {
    if (performance.now() > deadline)
      throw new Error(`no delivery to ${[...waiting].join(", ")} after settling`);
    await sleep(POLL_MS);
    for (const arrival of await drain()) {
      if ((written.get(arrival.key) ?? 0) >= since) waiting.delete(arrival.node);
    }
  }
}

function line(key: string, node: string, i: number): string {
  return JSON.stringify({
    id: key,
    from: SENDER,
    to: node,
    timestamp: "2026-02-14T18:40:00+08:00",
    type: "message",
    content: `第 ${i} 条消息：请帮我跑一下 benchmark 并把结果告诉我`,
  });
}
