import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunningBridge } from "../../src/app.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { finished, spawnTs } from "../helpers/spawn.js";
import { waitFor } from "../helpers/wait.js";
import {
  countBy,
  ExpectedInboxes,
  FAST_HEALTH,
  GroupTalk,
  inboxProblems,
  leftoverTempFiles,
  logged,
  noticeContaining,
  seedLine,
} from "./support/fault-kit.js";
import { fillUp, mountsWork, mountTmpfs, serveAsMount, setReadOnly, WHY_SKIPPED } from "./support/mounts.js";

// The shared folder failing under a running bridge (issue 14): read-only, full, gone and back.
// Each test sends traffic that needs the share while it fails, then checks that once it
// works again every envelope is in its inbox exactly once (by id), nothing is torn, the log
// says what happened, and people were told.

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

/** People were told, with the reason; the metric is up; the log has the one line that says so. */
async function expectSharedFolderDown(
  world: BridgeWorld,
  bridge: RunningBridge,
  lines: string[],
  reason: string,
) {
  const notice = await noticeContaining(world.emu, world.auditChat, "cannot use the shared folder");
  expect(notice).toContain(world.root);
  expect(notice).toContain(reason);
  expect(await bridge.metrics.value("health_problem", { check: "shared_folder" })).toBe(1);
  expect(logged(lines, /^health check failing: shared_folder: /, 50)[0]?.msg).toContain(reason);
}

/** People were told it is back; the metric is down again; the relay counted the appends it retried. */
async function expectSharedFolderBack(world: BridgeWorld, bridge: RunningBridge) {
  await noticeContaining(world.emu, world.auditChat, "The shared folder works again");
  await waitFor(
    async () => (await bridge.metrics.value("health_problem", { check: "shared_folder" })) === 0,
    {
      what: "health_problem{check=shared_folder} back to 0",
    },
  );
  const transitions = await bridge.metrics.value("health_transitions_total", { check: "shared_folder" });
  expect(transitions! % 2 === 0 && transitions! >= 2, `transitions ${transitions}`).toBe(true);
  expect(
    await bridge.metrics.value("envelopes_total", { route: "mailbox", outcome: "retried" }),
  ).toBeGreaterThan(0);
  expect((await bridge.metrics.value("envelopes_total", { outcome: "dead_letter" })) ?? 0).toBe(0);
}

describe.skipIf(!mountsWork)(
  `the shared folder failing${mountsWork ? "" : ` (skipped: ${WHY_SKIPPED})`}`,
  () => {
    it("turns read-only (the mount, EROFS): writes wait in the outbox and land once when it is writable again", async () => {
      const world = await bridgeWorld();
      const server = serveAsMount(world.root);
      const { bridge, sink } = await startWorldBridge(world, { health: FAST_HEALTH });
      const talk = new GroupTalk(world.emu);
      const expected = new ExpectedInboxes();
      await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });

      setReadOnly(world.root, true);
      // While it is read-only: a person writes to the mailbox-only node (an inbox append), and
      // asks ai-pc (its run goes on; the mirror line waits); nas-agent, writing on the file
      // server's side, asks ai-pc (read through the read-only mount; the answer waits).
      for (let i = 0; i < 3; i++) {
        const said = talk.say(world.emu.defaultChat, world.wang, `/tell nas-agent 只读期间 ${i}`);
        expected.add("nas-agent", `fs-${said.messageId}`);
      }
      const asked = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc 只读期间的问题");
      expected.add("ai-pc", `fs-${asked.messageId}`);
      expected.add("clawbridge", `re-fs-${asked.messageId}`);
      const fromNas = seedLine("nas-agent", "ai-pc", "只读期间 nas-agent 的请求");
      appendFileSync(path.join(server, "messages", "to-ai-pc.jsonl"), fromNas.line);
      expected.add("ai-pc", fromNas.id);
      expected.add("nas-agent", `re-${fromNas.id}`);

      await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.idempotencyKey === fromNas.id), {
        what: "nas-agent's line at ai-pc's gateway, read through the read-only mount",
      });
      await waitFor(() => logged(sink.lines, /^delivery failed; will retry .*EROFS/).length > 0, {
        what: "a log line naming EROFS",
      });
      expect(bridge.relay.stats()._mailbox!.pending).toBeGreaterThan(0);
      expect(inboxProblems(world.root, expected)).not.toEqual([]);
      await expectSharedFolderDown(world, bridge, sink.lines, "EROFS");

      setReadOnly(world.root, false);
      await waitFor(() => inboxProblems(world.root, expected).length === 0 && talk.settled, {
        timeoutMs: 40_000,
        what: () => inboxProblems(world.root, expected).join("; "),
      });
      await waitFor(() => bridge.relay.stats()._mailbox!.pending === 0, { what: "the mailbox outbox empty" });
      expect(agentRuns(world, "ai-pc").filter((r) => r.idempotencyKey === fromNas.id)).toHaveLength(1);
      expect(leftoverTempFiles(server)).toEqual([]);
      await expectSharedFolderBack(world, bridge);
      talk.stop();
    });

    it("fills up (a small tmpfs, ENOSPC): no line is torn, no lock left behind; each lands once after space is freed", async () => {
      const world = await bridgeWorld();
      mountTmpfs(world.root, 2 * 1024 * 1024);
      mkdirSync(path.join(world.root, "messages"));
      const { bridge, sink } = await startWorldBridge(world, { health: FAST_HEALTH });
      const talk = new GroupTalk(world.emu);
      const expected = new ExpectedInboxes();
      await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });
      const inbox = (node: string) => path.join(world.root, "messages", `to-${node}.jsonl`);
      // Inboxes that already hold a line, so the last page of each has room for part of another.
      for (const node of ["ai-pc", "nas-agent", "clawbridge"])
        appendFileSync(inbox(node), seedLine("office-mac", node, "填满之前").line);
      const fromNas = seedLine("nas-agent", "ai-pc", "磁盘满之前写下的请求");
      appendFileSync(inbox("ai-pc"), fromNas.line);
      expected.add("ai-pc", fromNas.id);
      expected.add("nas-agent", `re-${fromNas.id}`);

      // Full: not even a lock file's record can be written.
      const filler = fillUp(world.root);
      const asked = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc 磁盘满时的问题");
      expected.add("ai-pc", `fs-${asked.messageId}`);
      expected.add("clawbridge", `re-fs-${asked.messageId}`);
      await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.idempotencyKey === fromNas.id), {
        what: "nas-agent's line at ai-pc's gateway, read from the full share",
      });
      await waitFor(() => logged(sink.lines, /^delivery failed; will retry .*ENOSPC/).length > 0, {
        what: "a log line naming ENOSPC",
      });
      expect(bridge.relay.stats()._mailbox!.pending).toBeGreaterThan(0);
      // A lock whose record could not be written is not left behind to block every writer.
      expect(readdirSync(path.join(world.root, "messages")).filter((f) => f.endsWith(".lock"))).toEqual([]);
      await expectSharedFolderDown(world, bridge, sink.lines, "ENOSPC");

      // Nearly full: one page free, which a lock file takes; a long line fits only in part.
      truncateSync(filler, statSync(filler).size - 4096);
      const long = talk.say(
        world.emu.defaultChat,
        world.wang,
        `/tell nas-agent 磁盘将满 ${"长".repeat(2_000)}`,
      );
      expected.add("nas-agent", `fs-${long.messageId}`);
      await waitFor(
        () =>
          logged(sink.lines, new RegExp(`^delivery failed; will retry .*to-nas-agent.*ENOSPC`)).length > 0,
        {
          what: "a failed append to to-nas-agent.jsonl",
        },
      );

      rmSync(filler);
      await waitFor(() => inboxProblems(world.root, expected).length === 0 && talk.settled, {
        timeoutMs: 40_000,
        what: () => inboxProblems(world.root, expected).join("; "),
      });
      await waitFor(() => bridge.relay.stats()._mailbox!.pending === 0, { what: "the mailbox outbox empty" });
      expect(agentRuns(world, "ai-pc").filter((r) => r.idempotencyKey === fromNas.id)).toHaveLength(1);
      // Nothing of the failed writes is left behind: no temp files, no lock files.
      expect(leftoverTempFiles(world.root)).toEqual([]);
      expect(readdirSync(path.join(world.root, "messages")).filter((f) => f.endsWith(".lock"))).toEqual([]);
      await expectSharedFolderBack(world, bridge);
      talk.stop();
    });
  },
);

describe("the shared folder vanishing", () => {
  it("gone and back (an SMB remount), then back as a fresh copy: what waited lands once, nothing is read twice", async () => {
    const world = await bridgeWorld();
    const { bridge, sink } = await startWorldBridge(world, { health: FAST_HEALTH });
    const talk = new GroupTalk(world.emu);
    const expected = new ExpectedInboxes();
    await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });
    const away = `${world.root}.away`;
    const agentWrites = (root: string, content: string) => {
      const sent = seedLine("nas-agent", "ai-pc", content);
      appendFileSync(path.join(root, "messages", "to-ai-pc.jsonl"), sent.line);
      expected.add("ai-pc", sent.id);
      expected.add("nas-agent", `re-${sent.id}`);
      return sent;
    };
    const before = agentWrites(world.root, "消失之前");
    await waitFor(() => inboxProblems(world.root, expected).length === 0, {
      what: () => `the answer before the fault: ${inboxProblems(world.root, expected).join("; ")}`,
    });

    renameSync(world.root, away);
    // Meanwhile a person writes to nas-agent, and nas-agent (on the server's side) to ai-pc.
    const said = talk.say(world.emu.defaultChat, world.wang, "/tell nas-agent 共享盘不在时");
    expected.add("nas-agent", `fs-${said.messageId}`);
    const meanwhile = agentWrites(away, "共享盘不在时 nas-agent 写的");
    await waitFor(() => logged(sink.lines, /^delivery failed; will retry .*ENOENT/).length > 0, {
      what: "a log line naming ENOENT",
    });
    expect(bridge.relay.stats()._mailbox!.pending).toBeGreaterThan(0);
    await expectSharedFolderDown(world, bridge, sink.lines, "ENOENT");
    renameSync(away, world.root);
    await waitFor(() => inboxProblems(world.root, expected).length === 0 && talk.settled, {
      timeoutMs: 40_000,
      what: () => inboxProblems(world.root, expected).join("; "),
    });
    await expectSharedFolderBack(world, bridge);

    // A remount can bring the same files back as new inodes: the watches on the old ones are dead.
    const copy = `${world.root}.copy`;
    cpSync(world.root, copy, { recursive: true });
    renameSync(world.root, away);
    renameSync(copy, world.root);
    const afterCopy = agentWrites(world.root, "换成副本之后");
    await waitFor(() => inboxProblems(world.root, expected).length === 0, {
      timeoutMs: 20_000,
      what: () => inboxProblems(world.root, expected).join("; "),
    });
    await waitFor(() => bridge.relay.stats()._mailbox!.pending === 0, { what: "the mailbox outbox empty" });
    // Every line reached ai-pc's gateway once: none was read again from the copy.
    const runs = countBy(agentRuns(world, "ai-pc").map((r) => r.idempotencyKey));
    for (const sent of [before, meanwhile, afterCopy]) expect(runs.get(sent.id), sent.id).toBe(1);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    talk.stop();
  });
});

describe("a writer killed while it holds an inbox's lock", () => {
  it("its lock is taken over (at once on this host, once stale from another), logged, and the appends go through once", async () => {
    const world = await bridgeWorld({
      configure: (config) => {
        // The age at which a lock of another host counts as abandoned; 1 s keeps the test short.
        (config.mailbox as Record<string, unknown>).lockStaleMs = 1_000;
      },
    });
    const { bridge, sink } = await startWorldBridge(world, { health: FAST_HEALTH });
    const talk = new GroupTalk(world.emu);
    const expected = new ExpectedInboxes();
    await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });
    const inbox = (node: string) => path.join(world.root, "messages", `to-${node}.jsonl`);

    // Two agents' writers die holding a lock: one on this host, one on another computer.
    const holders = [
      { file: inbox("nas-agent"), args: [] as string[] },
      { file: inbox("clawbridge"), args: ["nas-box"] },
    ];
    const pids = await Promise.all(
      holders.map(async (holder) => {
        const child = spawnTs("test/reliability/support/lock-holder.ts", [holder.file, ...holder.args]);
        const exit = finished(child);
        let out = "";
        child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
        await waitFor(() => out.includes("holding"), { what: `the lock on ${path.basename(holder.file)}` });
        child.kill("SIGKILL");
        expect((await exit).signal).toBe("SIGKILL");
        return child.pid!;
      }),
    );
    expect(existsSync(`${inbox("nas-agent")}.lock`) && existsSync(`${inbox("clawbridge")}.lock`)).toBe(true);

    const toNas = talk.say(world.emu.defaultChat, world.wang, "/tell nas-agent 锁被留下之后");
    expected.add("nas-agent", `fs-${toNas.messageId}`);
    const asked = talk.say(world.emu.defaultChat, world.wang, "/tell ai-pc 锁被留下之后的问题");
    expected.add("ai-pc", `fs-${asked.messageId}`);
    expected.add("clawbridge", `re-fs-${asked.messageId}`);
    await waitFor(() => inboxProblems(world.root, expected).length === 0 && talk.settled, {
      timeoutMs: 20_000,
      what: () => inboxProblems(world.root, expected).join("; "),
    });

    const takeovers = logged(sink.lines, /^took over the lock /);
    expect(takeovers.map((r) => r.msg).sort()).toEqual([
      expect.stringContaining(`${inbox("clawbridge")}.lock of pid ${pids[1]} on nas-box: not written for`),
      expect.stringContaining(
        `${inbox("nas-agent")}.lock of pid ${pids[0]} on ${os.hostname()}: that process is gone`,
      ),
    ]);
    expect(readdirSync(path.join(world.root, "messages")).filter((f) => f.endsWith(".lock"))).toEqual([]);
    await waitFor(() => bridge.relay.stats()._mailbox!.pending === 0, { what: "the mailbox outbox empty" });
    expect(
      await bridge.metrics.value("envelopes_total", { route: "mailbox", outcome: "delivered" }),
    ).toBeGreaterThanOrEqual(2);
    expect((await bridge.metrics.value("envelopes_total", { outcome: "dead_letter" })) ?? 0).toBe(0);
    talk.stop();
  });
});
