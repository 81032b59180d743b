import { hash } from "node:crypto";

/**
 * Which live replica should hold each role: bounded-load rendezvous hashing.
 *
 * Every replica computes this from the same live set and gets the same answer, so no
 * coordinator is needed. Each role ranks the replicas by `score(role, replica)` and goes to
 * the best-ranked one that still has room. Rendezvous ranking keeps most roles in place
 * when a replica joins or leaves (a role moves only if its replica left, or to fill the
 * newcomer); the bound keeps the load even: every replica ends with ⌊n/r⌋ or ⌈n/r⌉ roles
 * (only `n mod r` replicas may take the extra one), so max ÷ min ≤ 1.5 once n ≥ 2r.
 *
 * `held` (roles each replica already has from other groups, see {@link assignGroups}) says
 * who may take an extra one: those holding fewest; among equals, whoever the ranking reaches
 * first. Roles are placed in sorted order so the result does not depend on the order given.
 */
export function assignRoles(
  roles: readonly string[],
  replicas: readonly string[],
  held?: ReadonlyMap<string, number>,
): Map<string, string> {
  const assignment = new Map<string, string>();
  const candidates = [...new Set(replicas)].sort();
  if (candidates.length === 0) return assignment;
  const sortedRoles = [...new Set(roles)].sort();

  const base = Math.floor(sortedRoles.length / candidates.length);
  const extras = extraRoom(candidates, sortedRoles.length % candidates.length, held);
  const load = new Map<string, number>(candidates.map((replica) => [replica, 0]));

  for (const role of sortedRoles) {
    const ranked = candidates
      .map((replica) => ({ replica, score: score(role, replica) }))
      .sort((a, b) => b.score - a.score || (a.replica < b.replica ? -1 : 1));
    for (const { replica } of ranked) {
      const count = load.get(replica)!;
      // Below ⌊n/r⌋ there is always room; one more only where an extra is left. The
      // capacities add up to exactly n, so every role finds a place.
      if (count < base || (count === base && extras.take(replica))) {
        load.set(replica, count + 1);
        assignment.set(role, replica);
        break;
      }
    }
  }
  return assignment;
}

/**
 * Several groups over one live set, each spread evenly by {@link assignRoles}, in the order
 * given: where a group does not divide evenly, its extra roles go to the replicas holding
 * fewest roles of the groups before it. (The replicas' roles: the folder's reader and the
 * inboxes' writer work for every node, so the nodes left over go to the replicas doing neither.)
 */
export function assignGroups(
  groups: readonly { roles: readonly string[] }[],
  replicas: readonly string[],
): Map<string, string> {
  const assignment = new Map<string, string>();
  const held = new Map<string, number>();
  for (const group of groups) {
    for (const [role, owner] of assignRoles(group.roles, replicas, held)) {
      assignment.set(role, owner);
      held.set(owner, (held.get(owner) ?? 0) + 1);
    }
  }
  return assignment;
}

/**
 * The `count` places beyond ⌊n/r⌋: each replica takes at most one. Without `held`, any
 * replica may, first come first served. With it, those holding fewer roles than the
 * count-th fewest are sure of one, and those holding exactly that many share what is left.
 */
function extraRoom(
  candidates: readonly string[],
  count: number,
  held: ReadonlyMap<string, number> | undefined,
): { take(replica: string): boolean } {
  const heldBy = (replica: string) => held?.get(replica) ?? 0;
  const cutoff = count > 0 ? candidates.map(heldBy).sort((a, b) => a - b)[count - 1]! : 0;
  const sure = new Set(candidates.filter((replica) => heldBy(replica) < cutoff));
  let shared = count - sure.size;
  return {
    take(replica) {
      if (sure.has(replica)) return true;
      if (shared === 0 || heldBy(replica) !== cutoff) return false;
      shared--;
      return true;
    },
  };
}

/** The roles `replica` should hold under {@link assignRoles}. */
export function rolesOf(assignment: ReadonlyMap<string, string>, replica: string): string[] {
  return [...assignment].filter(([, owner]) => owner === replica).map(([role]) => role);
}

/** A deterministic 48-bit score (a safe integer), the same on every replica and platform. */
function score(role: string, replica: string): number {
  // NUL keeps ("ab","c") and ("a","bc") apart.
  return hash("sha256", `${role}\u0000${replica}`, "buffer").readUIntBE(0, 6);
}
