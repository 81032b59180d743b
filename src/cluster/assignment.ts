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
 * Roles are placed in sorted order so the result does not depend on the order given.
 */
export function assignRoles(roles: readonly string[], replicas: readonly string[]): Map<string, string> {
  const assignment = new Map<string, string>();
  const candidates = [...new Set(replicas)].sort();
  if (candidates.length === 0) return assignment;
  const sortedRoles = [...new Set(roles)].sort();

  const base = Math.floor(sortedRoles.length / candidates.length);
  let extras = sortedRoles.length % candidates.length;
  const load = new Map<string, number>(candidates.map((replica) => [replica, 0]));

  for (const role of sortedRoles) {
    const ranked = candidates
      .map((replica) => ({ replica, score: score(role, replica) }))
      .sort((a, b) => b.score - a.score || (a.replica < b.replica ? -1 : 1));
    for (const { replica } of ranked) {
      const count = load.get(replica)!;
      // Below ⌊n/r⌋ there is always room; one more only while extras remain. The capacities
      // add up to exactly n, so every role finds a place.
      if (count < base || (count === base && extras > 0)) {
        if (count === base) extras--;
        load.set(replica, count + 1);
        assignment.set(role, replica);
        break;
      }
    }
  }
  return assignment;
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
