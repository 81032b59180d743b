import { describe, expect, it } from "vitest";
import { assignGroups, assignRoles, rolesOf } from "../../../src/cluster/index.js";

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

describe("assignGroups: several groups over one set of replicas", () => {
  const folderGroup = { roles: ["folder", "inboxes"] };
  const singletons = { roles: ["chat", "tasks"] };
  const groups = (nodeCount: number) => [folderGroup, { roles: nodes(nodeCount) }, singletons];
  const heavy = (assignment: Map<string, string>, replica: string) =>
    rolesOf(assignment, replica).some((role) => role === "folder" || role === "inboxes");
  const nodeCount = (assignment: Map<string, string>, replica: string) =>
    rolesOf(assignment, replica).filter((role) => role.startsWith("node:")).length;

  it("gives the nodes that do not divide evenly to the replicas holding neither folder nor inboxes", () => {
    for (let salt = 0; salt < 30; salt++) {
      for (const [replicaCount, count] of [
        [3, 10],
        [3, 31],
        [4, 10],
        [5, 12],
      ] as const) {
        const replicas = replicaIds(replicaCount, `g${salt}-`);
        const assignment = assignGroups(groups(count), replicas);
        expect(assignment.size).toBe(count + 4);
        const base = Math.floor(count / replicaCount);
        for (const replica of replicas) {
          // ⌊n/r⌋ or ⌈n/r⌉ nodes each, as before; ⌈n/r⌉ only where neither folder nor inboxes is.
          const held = nodeCount(assignment, replica);
          if (heavy(assignment, replica)) expect(held).toBe(base);
          else expect([base, base + 1]).toContain(held);
        }
        expect(replicas.reduce((sum, replica) => sum + nodeCount(assignment, replica), 0)).toBe(count);
      }
    }
  });

  it("spreads each group as assignRoles does: one group alone, and every group within its bounds", () => {
    const replicas = replicaIds(3, "alone-");
    expect([...assignGroups([{ roles: nodes(10) }], replicas)].sort()).toEqual(
      [...assignRoles(nodes(10), replicas)].sort(),
    );
    const assignment = assignGroups(groups(30), replicas);
    expect(replicas.map((replica) => nodeCount(assignment, replica))).toEqual([10, 10, 10]);
    expect(new Set(["folder", "inboxes"].map((role) => assignment.get(role))).size).toBe(2);
    expect(new Set(["chat", "tasks"].map((role) => assignment.get(role))).size).toBe(2);
    // Two replicas: folder and inboxes apart, the nodes even; one replica: everything.
    const two = replicaIds(2, "two-");
    const onTwo = assignGroups(groups(10), two);
    expect(new Set(["folder", "inboxes"].map((role) => onTwo.get(role))).size).toBe(2);
    expect(two.map((replica) => nodeCount(onTwo, replica))).toEqual([5, 5]);
    expect(new Set(assignGroups(groups(10), ["only-1-abcd"]).values())).toEqual(new Set(["only-1-abcd"]));
  });

  it("gives the same answer whatever the order of the replicas, and moves few nodes when one leaves", () => {
    let extraMoves = 0;
    let trials = 0;
    for (let salt = 0; salt < 20; salt++) {
      const replicas = replicaIds(3, `m${salt}-`);
      const before = assignGroups(groups(30), replicas);
      expect([...assignGroups(groups(30), [...replicas].reverse())].sort()).toEqual([...before].sort());
      for (const gone of replicas) {
        const after = assignGroups(
          groups(30),
          replicas.filter((replica) => replica !== gone),
        );
        const orphaned = rolesOf(before, gone).filter((role) => role.startsWith("node:"));
        const movedNodes = moved(before, after).filter((role) => role.startsWith("node:"));
        for (const role of orphaned) expect(movedNodes).toContain(role);
        extraMoves += movedNodes.length - orphaned.length;
        trials++;
      }
    }
    expect(extraMoves / trials).toBeLessThan(2);
  });
});
