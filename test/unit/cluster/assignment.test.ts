import { describe, expect, it } from "vitest";
import { assignRoles, rolesOf } from "../../../src/cluster/index.js";

const nodes = (count: number) =>
  Array.from({ length: count }, (_, i) => `node:n${String(i).padStart(2, "0")}`);
const replicaIds = (count: number, salt = "x") =>
  Array.from({ length: count }, (_, i) => `host-${salt}${i}-${1000 + i}-ab${i}c`);

function loads(assignment: Map<string, string>, replicas: readonly string[]): number[] {
  return replicas.map((replica) => rolesOf(assignment, replica).length);
}

/** Roles whose owner differs between the two assignments. */
function moved(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([role, owner]) => after.get(role) !== owner).map(([role]) => role);
}

describe("assignRoles: bounded-load rendezvous hashing", () => {
  it("gives every replica the same answer, whatever the order it lists roles and replicas in", () => {
    const roles = nodes(12);
    const replicas = replicaIds(3);
    const first = assignRoles(roles, replicas);
    const shuffled = assignRoles([...roles].reverse(), [replicas[2]!, replicas[0]!, replicas[1]!]);
    expect([...shuffled].sort()).toEqual([...first].sort());
    expect(first.size).toBe(12);
    for (const owner of first.values()) expect(replicas).toContain(owner);
  });

  it("balances 30 roles over 3 replicas as 10/10/10, 31 as 11/10/10, 7 over 2 as 4/3", () => {
    const three = replicaIds(3);
    expect(loads(assignRoles(nodes(30), three), three)).toEqual([10, 10, 10]);
    expect(loads(assignRoles(nodes(31), three), three).sort()).toEqual([10, 10, 11]);
    const two = replicaIds(2);
    expect(loads(assignRoles(nodes(7), two), two).sort()).toEqual([3, 4]);
  });

  it("keeps max ÷ min ≤ 1.5 whenever there are at least twice as many roles as replicas", () => {
    for (let replicaCount = 1; replicaCount <= 7; replicaCount++) {
      for (let roleCount = 2 * replicaCount; roleCount <= 40; roleCount++) {
        const replicas = replicaIds(replicaCount, `r${roleCount}-`);
        const counts = loads(assignRoles(nodes(roleCount), replicas), replicas);
        expect(counts.reduce((sum, count) => sum + count, 0)).toBe(roleCount);
        expect(Math.max(...counts) / Math.min(...counts)).toBeLessThanOrEqual(1.5);
      }
    }
  });

  it("when one of 3 replicas leaves, moves its roles and only a few others, for balance", () => {
    const roles = nodes(30);
    let extraMoves = 0;
    let trials = 0;
    for (let salt = 0; salt < 20; salt++) {
      const replicas = replicaIds(3, `s${salt}-`);
      const before = assignRoles(roles, replicas);
      for (const gone of replicas) {
        const survivors = replicas.filter((replica) => replica !== gone);
        const after = assignRoles(roles, survivors);
        const orphaned = rolesOf(before, gone);
        const movedRoles = moved(before, after);
        // Every orphan moves; of the 20 roles on survivors at most a few do (balance: 15/15).
        for (const role of orphaned) expect(movedRoles).toContain(role);
        const extra = movedRoles.length - orphaned.length;
        expect(extra).toBeLessThanOrEqual(4);
        expect(loads(after, survivors)).toEqual([15, 15]);
        extraMoves += extra;
        trials++;
      }
    }
    // Typically about one role on a survivor moves (measured: 0.9 on average).
    expect(extraMoves / trials).toBeLessThan(2);
  });

  it("when a replica joins, moves roles to it and only a few between the others", () => {
    const roles = nodes(30);
    const replicas = replicaIds(3, "join-");
    const before = assignRoles(roles, replicas.slice(0, 2));
    const after = assignRoles(roles, replicas);
    const toNewcomer = rolesOf(after, replicas[2]!);
    expect(toNewcomer).toHaveLength(10);
    const movedRoles = moved(before, after);
    expect(movedRoles.length - toNewcomer.length).toBeLessThanOrEqual(4);
  });

  it("gives a lone replica every role, and no replicas nothing", () => {
    const roles = [...nodes(5), "folder", "chat"];
    const alone = assignRoles(roles, ["only-1-abcd"]);
    expect(alone.size).toBe(7);
    expect(new Set(alone.values())).toEqual(new Set(["only-1-abcd"]));
    expect(assignRoles(roles, []).size).toBe(0);
    expect(assignRoles([], replicaIds(3)).size).toBe(0);
  });

  it("spreads two singletons over two or more replicas, one each", () => {
    for (let count = 2; count <= 5; count++) {
      const assignment = assignRoles(["folder", "chat"], replicaIds(count, `single${count}-`));
      expect(new Set(assignment.values()).size).toBe(2);
    }
  });
});
