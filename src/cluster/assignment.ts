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
 * `preload` is load a replica carries already (a heavy role of another group, counted in
 * roles of this one): the bound is then on preload + roles, and a preloaded replica takes
 * that many fewer. Where the bound leaves no room for a role, it goes to the least loaded.
 *
 * Roles are placed in sorted order so the result does not depend on the order given.
 */
export function assignRoles(
  roles: readonly string[],
  replicas: readonly string[],
  preload: ReadonlyMap<string, number> = new Map(),
): Map<string, string> {
  const assignment = new Map<string, string>();
  const candidates = [...new Set(replicas)].sort();
  if (candidates.length === 0) return assignment;
  const sortedRoles = [...new Set(roles)].sort();

  const load = new Map<string, number>(candidates.map((replica) => [replica, preload.get(replica) ?? 0]));
  const total = sortedRoles.length + [...load.values()].reduce((sum, count) => sum + count, 0);
  const base = Math.floor(total / candidates.length);
  let extras = total % candidates.length;
  // A replica preloaded beyond ⌊n/r⌋ holds one of the extras already.
  for (const count of load.values()) if (count > base && extras > 0) extras--;

  for (const role of sortedRoles) {
    const ranked = candidates
      .map((replica) => ({ replica, score: score(role, replica) }))
      .sort((a, b) => b.score - a.score || (a.replica < b.replica ? -1 : 1));
    // Below ⌊n/r⌋ there is always room; one more only while extras remain. Without a preload
    // the capacities add up to exactly n, so every role finds a place.
    let owner = ranked.find(({ replica }) => {
      const count = load.get(replica)!;
      return count < base || (count === base && extras > 0);
    })?.replica;
    if (owner !== undefined && load.get(owner) === base) extras--;
    // A preload above the bound can leave the others' room short by the extras it held.
    owner ??= ranked.reduce((least, next) =>
      load.get(next.replica)! < load.get(least.replica)! ? next : least,
    ).replica;
    load.set(owner, load.get(owner)! + 1);
    assignment.set(role, owner);
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
