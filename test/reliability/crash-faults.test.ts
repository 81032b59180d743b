import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTasks } from "../../src/tasks/index.js";
import { bridgeWorld, type BridgeWorld } from "../helpers/bridge.js";
import { BridgeRunner } from "../helpers/bridge-runner.js";
import { sleep, waitFor } from "../helpers/wait.js";
import {
  countBy,
  ExpectedInboxes,
  GroupTalk,
  inboxIds,
  inboxProblems,
  logged,
  seedLine,
} from "./support/fault-kit.js";

// SIGKILL while tasks run (issue 14). SIGKILL under relay load — 10,000 envelopes from the
// group and the inboxes, five kills, each delivered, written and posted exactly once — is
// test/integration/relay/relay-crash.test.ts; a graceful restart mid-task re-attaching to its
// run is test/integration/tasks/lifecycle-restart.test.ts. Missing until now: tasks (and the
// relays their commands cause) killed at random moments with SIGKILL, then checked end to
// end — each task ran once on its node, ended done in the journal with one card, one final
// message and one result line — and the restarted bridge's metrics agree.

const KILLS = 2;

/** A task's agent run: a few lines of output over about a second, so kills land mid-run. */
const SLOW = { kind: "text" as const, text: "step 1\nstep 2\nstep 3\nall done", chunks: 4, delayMs: 250 };

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

/** The ops listener of the bridge process's latest start, from its log. */
function opsUrlOf(logFile: string): string {
  const started = logged(readFileSync(logFile, "utf8").split("\n"), /^clawbridge started/, 30).at(-1);
  const url = (started as { ops?: string } | undefined)?.ops;
  if (!url) throw new Error("no ops URL in the bridge's log");
  return url;
}

async function scrape(opsUrl: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the bridge killed with SIGKILL while tasks run", () => {
  it("each task runs once on its node and ends done with one card, one final message, one result line", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: SLOW }, "office-mac": { script: SLOW } },
    });
    const logFile = path.join(path.dirname(world.configPath), "bridge.log");
    // The Feishu outbound queue keeps its own pace (no --relax-outbound): the emulator limits as Feishu does.
    const runner = new BridgeRunner(world, logFile, []);
    const talk = new GroupTalk(world.emu);
    const expected = new ExpectedInboxes();
    const commands: { messageId: string; node: "ai-pc" | "office-mac"; prompt: string }[] = [];
    const relayed: string[] = [];
    /** Tasks the journal had running when each kill landed. */
    const runningAtKill: number[] = [];
    await runner.start();

    for (let round = 0; round <= KILLS; round++) {
      for (const node of ["ai-pc", "office-mac"] as const) {
        const prompt = `第 ${round} 轮的任务 ${node}`;
        commands.push({
          ...talk.say(world.emu.defaultChat, world.wang, `/run ${node} ${prompt}`),
          node,
          prompt,
        });
      }
      // A relay in the same moments: office-mac's agent asks ai-pc through the folder.
      const line = seedLine("office-mac", "ai-pc", `第 ${round} 轮的邮件`);
      appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), line.line);
      relayed.push(line.id);
      expected.add("office-mac", `re-${line.id}`);
      if (round === KILLS) break;
      // Kill once a task of this round runs (the journal says so), at a random moment of its run.
      const thisRound = commands.slice(-2).map((c) => c.messageId);
      await waitFor(
        async () =>
          (await readTasks(world.stateDir)).some(
            (t) => t.state === "running" && thisRound.includes(t.place?.replyTo ?? ""),
          ),
        { timeoutMs: 20_000, intervalMs: 20, what: `a task of round ${round} running` },
      );
      await sleep(Math.random() * 500);
      const killed = await runner.kill();
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      runningAtKill.push((await readTasks(world.stateDir)).filter((t) => t.state === "running").length);
      await runner.start();
    }

    // Every task done, each once, on the node it was asked for.
    let seen: Awaited<ReturnType<typeof readTasks>> = [];
    const tasks = await waitFor(
      async () => {
        const all = (seen = await readTasks(world.stateDir));
        return all.length === commands.length && all.every((t) => t.state === "done") ? all : undefined;
      },
      {
        timeoutMs: 45_000,
        intervalMs: 200,
        what: () => `all ${commands.length} tasks done: ${seen.map((t) => `${t.id} ${t.state}`).join(", ")}`,
      },
    );
    // The kills really landed mid-task.
    expect(
      runningAtKill.some((n) => n > 0),
      `running at each kill: ${runningAtKill.join(", ")}`,
    ).toBe(true);
    for (const command of commands) {
      const task = tasks.filter((t) => t.place?.replyTo === command.messageId);
      expect(task, command.prompt).toHaveLength(1);
      expect(task[0]).toMatchObject({
        node: command.node,
        prompt: command.prompt,
        output: "step 1\nstep 2\nstep 3\nall done",
      });
      const runs = agentRuns(world, command.node).filter((r) => r.idempotencyKey === task[0]!.envelopeId);
      expect(runs, `${task[0]!.id}'s runs`).toHaveLength(1);
    }
    const runKeys = countBy(
      [...agentRuns(world, "ai-pc"), ...agentRuns(world, "office-mac")].map((r) => r.idempotencyKey),
    );
    expect([...runKeys].filter(([, n]) => n > 1)).toEqual([]);
    for (const id of relayed) expect(runKeys.get(id), id).toBe(1);

    // In the chat: one card per command (patched to done) and one final message; in the folder, one result line each.
    await waitFor(
      () =>
        commands.every((c) => {
          const replies = world.emu
            .messages(world.emu.defaultChat)
            .filter((m) => m.parentId === c.messageId && m.senderAppId);
          return replies.some((m) => m.msgType === "text" && m.text?.includes("<at user_id="));
        }) && talk.settled,
      { timeoutMs: 20_000, what: "every task's final message" },
    );
    for (const command of commands) {
      const replies = world.emu
        .messages(world.emu.defaultChat)
        .filter((m) => m.parentId === command.messageId && m.senderAppId);
      expect(
        replies.filter((m) => m.msgType === "interactive"),
        command.prompt,
      ).toHaveLength(1);
      expect(
        replies.filter((m) => m.msgType === "text"),
        command.prompt,
      ).toHaveLength(1);
    }
    await waitFor(() => inboxProblems(world.root, expected).length === 0, {
      what: () => inboxProblems(world.root, expected).join("; "),
    });
    const results = countBy(
      readFileSync(path.join(world.root, "messages", "to-clawbridge.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { taskId?: string }).taskId)
        .filter((id): id is string => id !== undefined),
    );
    expect(Object.fromEntries(results)).toEqual(Object.fromEntries(tasks.map((t) => [t.id, 1])));
    expect(inboxIds(world.root, "clawbridge").bad).toEqual([]);

    // The log says each restart took over what the killed process left; the last one's metrics agree.
    const log = readFileSync(logFile, "utf8").split("\n");
    expect(logged(log, /^taking over our leftover lease: pid \d+ on this host is gone/)).toHaveLength(KILLS);
    const ops = opsUrlOf(logFile);
    expect(await scrape(ops, 'clawbridge_tasks{state="done"}')).toBe(commands.length);
    await waitFor(async () => (await scrape(ops, 'clawbridge_outbox_depth{outbox="ai-pc"}')) === 0, {
      what: "ai-pc's outbox empty",
    });
    expect(await scrape(ops, 'clawbridge_health_problem{check="state_dir"}')).toBe(0);
    console.log(
      JSON.stringify({
        kills: KILLS,
        runningAtKill,
        restartsMs: runner.starts,
        redeliveries: talk.redeliveries,
      }),
    );
    const stopped = await runner.stop();
    expect(stopped.code, stopped.stderr).toBe(0);
    talk.stop();
  });
});
