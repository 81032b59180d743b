import { nodeKey } from "../core/index.js";
import type { NodeHealth } from "./node-health.js";

/** What a caller asks the pool for: a named node, or the best node with a tag. */
export interface SelectQuery {
  /** A node by name (ignoring case); the other filters still apply to it. */
  node?: string;
  /** `gpu` or `#gpu`, ignoring case. */
  tag?: string;
  /** `gateway` when the caller needs a gateway (e.g. to stream a run); default `any`. */
  kind?: "gateway" | "any";
}

/** Why no node was picked; `candidates` are the nodes that got furthest, for the reply to show. */
export type SelectFailure = "unknown-node" | "no-node-with-tag" | "none-healthy" | "none-free";

/**
 * The pool's answer. Selecting does not take a slot: the caller acquires one (and queues
 * the task itself on `none-free`).
 *
 * - `unknown-node`: the named node is not configured (`candidates` empty), or it is not a
 *   gateway node while `kind: "gateway"` was asked for (`candidates` holds it).
 * - `no-node-with-tag`: no node (of that kind) carries the tag.
 * - `none-healthy`: the matching nodes (`candidates`) are all down.
 * - `none-free`: the healthy matching nodes (`candidates`) all run `maxConcurrent` tasks.
 */
export type Selection =
  { ok: true; node: NodeHealth } | { ok: false; reason: SelectFailure; candidates: NodeHealth[] };

/** `#GPU` → `gpu`: how tags are compared (people type them in chat with or without the `#`). */
export function normalizeTag(tag: string): string {
  return tag.trim().replace(/^#/, "").toLowerCase();
}

/** True when the node carries the tag, ignoring case and a leading `#`. */
export function hasTag(node: Pick<NodeHealth, "tags">, tag: string): boolean {
  const wanted = normalizeTag(tag);
  return node.tags.some((own) => normalizeTag(own) === wanted);
}

/**
 * Picks a node from `nodes` (in config order): filter by kind and tag, keep the healthy,
 * keep those with a free slot, then fewest running tasks, then lowest latency (unknown
 * latency last), then config order. Pure, so the rule is tested on plain data.
 */
export function selectNode(nodes: readonly NodeHealth[], query: SelectQuery = {}): Selection {
  const tag = query.tag === undefined ? "" : normalizeTag(query.tag);
  const wantsKind = (node: NodeHealth) => query.kind !== "gateway" || node.kind === "gateway";
  const wantsTag = (node: NodeHealth) => tag === "" || hasTag(node, tag);

  if (query.node !== undefined) {
    const key = nodeKey(query.node);
    const named = nodes.find((node) => nodeKey(node.name) === key);
    if (!named) return { ok: false, reason: "unknown-node", candidates: [] };
    if (!wantsKind(named)) return { ok: false, reason: "unknown-node", candidates: [named] };
    if (!wantsTag(named)) return { ok: false, reason: "no-node-with-tag", candidates: [named] };
    if (!named.healthy) return { ok: false, reason: "none-healthy", candidates: [named] };
    if (!isFree(named)) return { ok: false, reason: "none-free", candidates: [named] };
    return { ok: true, node: named };
  }

  const matching = nodes.filter((node) => wantsKind(node) && wantsTag(node));
  if (matching.length === 0) {
    // Without a tag there is nothing to blame but the lack of (gateway) nodes at all.
    return { ok: false, reason: tag === "" ? "none-healthy" : "no-node-with-tag", candidates: [] };
  }
  const healthy = matching.filter((node) => node.healthy);
  if (healthy.length === 0) return { ok: false, reason: "none-healthy", candidates: matching };
  const free = healthy.filter(isFree);
  if (free.length === 0) return { ok: false, reason: "none-free", candidates: healthy };

  const order = new Map(nodes.map((node, index) => [node, index] as const));
  const [best] = [...free].sort(
    (a, b) =>
      a.running - b.running ||
      (a.latencyMs ?? Number.POSITIVE_INFINITY) - (b.latencyMs ?? Number.POSITIVE_INFINITY) ||
      (order.get(a) ?? 0) - (order.get(b) ?? 0),
  );
  return best ? { ok: true, node: best } : { ok: false, reason: "none-free", candidates: healthy };
}

function isFree(node: NodeHealth): boolean {
  return node.running < node.maxConcurrent;
}
