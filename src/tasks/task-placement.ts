import { nodeKey } from "../core/index.js";
import { hasTag, normalizeTag, type NodePool } from "../nodes/index.js";

/** Why a target can never be served (as opposed to "not now": that waits in the queue). */
export type TargetRefusal = { reason: "no-nodes" } | { reason: "unknown-node" | "unknown-tag"; name: string };

/** A node name must be configured; a `#tag` must be on some node; no target is any node. */
export function checkTarget(
  target: string | undefined,
  nodes: ReadonlyMap<string, unknown>,
  pool: Pick<NodePool, "health">,
): TargetRefusal | undefined {
  if (nodes.size === 0) return { reason: "no-nodes" };
  if (!target) return undefined;
  if (target.startsWith("#")) {
    const tag = normalizeTag(target);
    return pool.health().some((node) => hasTag(node, tag)) ? undefined : { reason: "unknown-tag", name: tag };
  }
  return nodes.has(nodeKey(target)) ? undefined : { reason: "unknown-node", name: target };
}

/**
 * The node a task with this target can start on now, if any (the pool's rule: healthy, a
 * free slot, fewest running). A named mailbox-only node is given its task even while its
 * status file is stale: its inbox is its queue, and the card says it waits for the node.
 */
export function pickNode(target: string | undefined, pool: Pick<NodePool, "select">): string | undefined {
  const query = target?.startsWith("#") ? { tag: target } : target ? { node: target } : {};
  const selection = pool.select(query);
  if (selection.ok) return selection.node.name;
  const [only] = selection.candidates;
  const named = target !== undefined && !target.startsWith("#");
  if (
    named &&
    selection.reason === "none-healthy" &&
    only?.kind === "mailbox" &&
    only.running < only.maxConcurrent
  ) {
    return only.name;
  }
  return undefined;
}
