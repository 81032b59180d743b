import { appendFileSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
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
import { fillUp, mountsWork, mountTmpfs, WHY_SKIPPED } from "./support/mounts.js";

// The state folder's disk filling up under a running bridge (issue 14). Outboxes, cursors,
// the Feishu dedup log and the task journal all live there: while nothing can be recorded,
// nothing may be taken in as done — inbox lines stay unread in their files, Feishu events
// stay unacknowledged or are answered — and once there is room again every envelope goes
// out exactly once.
//
// A full disk still takes small appends into the pages a file already has (tmpfs and ext4
// alike), so the traffic here is long: each record is bigger than any page's room, and its
// write fails for certain instead of by the luck of where a journal's last page ends.

/** Longer than the room left in any page a journal already has: its record cannot slip in. */
const LONG = "长".repeat(3_000);

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

describe.skipIf(!mountsWork)(
  `the state folder's disk full${mountsWork ? "" : ` (skipped: ${WHY_SKIPPED})`}`,
  () => {
    it("inbox lines wait in their files (nothing run, nothing taken as read), people are told; all go out once after space is freed", async () => {
      const world = await bridgeWorld();
      mountTmpfs(world.stateDir, 4 * 1024 * 1024);
      const { bridge, sink } = await startWorldBridge(world, { health: FAST_HEALTH });
      const expected = new ExpectedInboxes();
      await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });
      const inbox = (node: string) => path.join(world.root, "messages", `to-${node}.jsonl`);
      const warm = seedLine("office-mac", "ai-pc", "磁盘满之前");
      appendFileSync(inbox("ai-pc"), warm.line);
      await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.idempotencyKey === warm.id), {
        what: "a line delivered before the fault",
      });

      const filler = fillUp(world.stateDir);
      // While it is full: the mailbox-only node and office-mac each ask ai-pc.
      const lines = [
        seedLine("nas-agent", "ai-pc", `状态盘满时 nas-agent 的请求 ${LONG}`),
        seedLine("office-mac", "ai-pc", `状态盘满时 office-mac 的请求 ${LONG}`),
      ];
      for (const sent of lines) appendFileSync(inbox("ai-pc"), sent.line);
      expected.add("nas-agent", `re-${lines[0]!.id}`);
      expected.add("office-mac", `re-${lines[1]!.id}`);

      const notice = await noticeContaining(world.emu, world.auditChat, "cannot write its state folder");
      expect(notice).toContain(world.stateDir);
      expect(notice).toContain("ENOSPC");
      expect(await bridge.metrics.value("health_problem", { check: "state_dir" })).toBe(1);
      expect(logged(sink.lines, /^health check failing: state_dir: ENOSPC/, 50).length).toBeGreaterThan(0);
      await waitFor(
        () => logged(sink.lines, /^reading the inbox failed; retrying .*outbox.*ENOSPC/, 50).length > 0,
        { what: "the log line of the inbox read that could not be recorded" },
      );
      // Nothing was run while it could not be recorded (a run not recorded would be run again).
      expect(agentRuns(world, "ai-pc").map((r) => r.idempotencyKey)).toEqual([warm.id]);

      rmSync(filler);
      await waitFor(() => inboxProblems(world.root, expected).length === 0, {
        timeoutMs: 30_000,
        what: () => inboxProblems(world.root, expected).join("; "),
      });
      await noticeContaining(world.emu, world.auditChat, "The state folder can be written again");
      await waitFor(
        async () => (await bridge.metrics.value("health_problem", { check: "state_dir" })) === 0,
        {
          what: "health_problem{check=state_dir} back to 0",
        },
      );
      // Down and back; a nearly full disk may flap on the way (a failed append frees its pages again).
      const transitions = await bridge.metrics.value("health_transitions_total", { check: "state_dir" });
      expect(transitions! >= 2 && transitions! % 2 === 0, `transitions ${transitions}`).toBe(true);
      await waitFor(
        () => Object.values(bridge.relay.stats()).every((s) => s.pending === 0 && s.inFlight === 0),
        {
          what: "all outboxes empty",
        },
      );
      // Each envelope ran once at ai-pc, the answers once in their sessions and inboxes.
      const runs = countBy(agentRuns(world, "ai-pc").map((r) => r.idempotencyKey));
      expect(Object.fromEntries(runs)).toEqual(Object.fromEntries([warm, ...lines].map((l) => [l.id, 1])));
      expect(agentRuns(world, "office-mac").map((r) => r.idempotencyKey)).toEqual([
        `re-${warm.id}`,
        `re-${lines[1]!.id}`,
      ]);
      expect(
        (await bridge.metrics.value("envelopes_total", { route: "gateway", outcome: "delivered" })) ?? 0,
      ).toBe(5);
      expect(leftoverTempFiles(world.stateDir)).toEqual([]);
    });

    // A command that fails because its outbox put cannot be written is answered through the
    // relay's chat outbox, in the same full folder; when that put fails too, the router fails the
    // event, so the intake releases it and Feishu's retry brings it again once there is room. A
    // state folder whose path is long makes the answer's record (it names the journal) too big for
    // any page's room, so the answer cannot be recorded every time, not one time in ten.
    it("a /tell said while it is full is answered or delivered once there is room — never dropped in silence", async () => {
      const world = await bridgeWorld({
        configure: (config) => {
          const state = config.state as { dir: string };
          const base = path.dirname(state.dir);
          // ~3.7 KB of path (PATH_MAX is 4 KB, temp files of atomic writes need a little more).
          const room = 3_700 - base.length;
          const parts = Array.from({ length: Math.ceil(room / 200) }, (_, i) => `${i}`.padStart(200, "s"));
          state.dir = path.join(base, ...parts).slice(0, base.length + room);
        },
      });
      const stateDir = (JSON.parse(readFileSync(world.configPath, "utf8")) as { state: { dir: string } })
        .state.dir;
      mountTmpfs(stateDir, 4 * 1024 * 1024);
      const { sink } = await startWorldBridge(world, { health: FAST_HEALTH });
      const talk = new GroupTalk(world.emu);
      await waitFor(() => world.gateways["ai-pc"].connections() > 0, { what: "ai-pc connected" });

      const filler = fillUp(stateDir);
      const asked = talk.say(world.emu.defaultChat, world.wang, `/tell ai-pc 状态盘满时的问题 ${LONG}`);
      await waitFor(() => logged(sink.lines, /^command failed .*ENOSPC/, 50).length > 0, {
        what: "the command's failure in the log",
      });
      rmSync(filler);
      const answered = () =>
        world.emu
          .messages(world.emu.defaultChat)
          .some((m) => m.parentId === asked.messageId && m.senderAppId && m.text?.includes("ENOSPC"));
      const delivered = () =>
        agentRuns(world, "ai-pc").filter((r) => r.idempotencyKey === `fs-${asked.messageId}`);
      await waitFor(() => answered() || delivered().length > 0, {
        // Feishu's retry (GroupTalk's, every 300 ms) would come well within this.
        timeoutMs: 5_000,
        what: "an answer to the /tell, or its delivery",
      });
      expect(delivered().length).toBeLessThanOrEqual(1);
      talk.stop();
    });
  },
);
