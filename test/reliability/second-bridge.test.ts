import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { finished, spawnTs } from "../helpers/spawn.js";
import { sleep, waitFor } from "../helpers/wait.js";
import {
  countBy,
  ExpectedInboxes,
  FAST_HEALTH,
  GroupTalk,
  inboxProblems,
  seedLine,
} from "./support/fault-kit.js";

// A second bridge started on a share another one serves (issue 14). The refusal itself —
// its words in both languages, a takeover making the first exit — is proven by
// test/integration/cli/start.test.ts and test/integration/mailbox/lease.test.ts. What is
// added here: while traffic flows, second bridges (one with a state folder of its own, one on
// the first's) start as real processes at once, and each is refused before
// it touches anything — no Feishu connection, no gateway connection, no cursor, no outbox —
// so every envelope is delivered exactly once, by the first.

/** The world's config with another state folder (the same shared folder), written beside it. */
function configWithStateDir(world: BridgeWorld, name: string): { file: string; stateDir: string } {
  const config = JSON.parse(readFileSync(world.configPath, "utf8")) as { state: { dir: string } };
  config.state.dir = path.join(path.dirname(world.stateDir), name);
  const file = path.join(path.dirname(world.configPath), `${name}.json5`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { file, stateDir: config.state.dir };
}

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

describe("a second bridge on the same shared folder", () => {
  it("is refused before it touches anything, while the first delivers every envelope exactly once", async () => {
    // Many lines between the same pair in a minute are traffic here, not a loop (crash-world.ts does the same).
    const world = await bridgeWorld({ relay: { budget: { perPairPerMinute: 10_000, cooldownSeconds: 1 } } });
    const { bridge } = await startWorldBridge(world, { health: FAST_HEALTH });
    const talk = new GroupTalk(world.emu);
    const expected = new ExpectedInboxes();
    const runsExpected = new Set<string>();
    await waitFor(() => world.gateways["ai-pc"].connections() > 0 && world.emu.wsClients() === 1, {
      what: "the first bridge connected",
    });
    const devices = () =>
      new Set(Object.values(world.gateways).flatMap((g) => g.clients().map((c) => c.deviceId ?? "?")));
    const firstDevices = devices();

    const others = [
      configWithStateDir(world, "state-2"),
      { file: world.configPath, stateDir: world.stateDir },
    ];
    const starts = others.map((other, i) => {
      const child = spawnTs(
        "test/helpers/bridge-process.ts",
        [other.file, path.join(path.dirname(world.configPath), `second-${i}.log`)],
        { env: world.env },
      );
      return finished(child);
    });
    let exited = 0;
    for (const start of starts) void start.then(() => exited++);

    // Traffic all the while they start: mailbox lines to ai-pc, /tell from the group.
    for (let i = 0; exited < starts.length || i < 6; i++) {
      expect(i, "rounds while the second bridges start").toBeLessThan(400);
      const sent = seedLine("nas-agent", "ai-pc", `第二个桥启动时 ${i}`);
      appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), sent.line);
      runsExpected.add(sent.id);
      expected.add("nas-agent", `re-${sent.id}`);
      if (i % 2 === 0) {
        const said = talk.say(world.emu.defaultChat, world.wang, `/tell ai-pc 第二个桥启动时的问题 ${i}`);
        runsExpected.add(`fs-${said.messageId}`);
        expected.add("ai-pc", `fs-${said.messageId}`);
        expected.add("clawbridge", `re-fs-${said.messageId}`);
      }
      // Paced: the audit chat takes 5 posts a second (Feishu's limit), two per mailbox line.
      await sleep(500);
    }

    const results = await Promise.all(starts);
    const [otherState, sameState] = results;
    expect(otherState!.code, otherState!.stderr).toBe(1);
    expect(otherState!.stdout).not.toContain("ready");
    expect(otherState!.stderr).toContain(`is already served by another clawbridge`);
    expect(otherState!.stderr).toContain(`is held by pid ${process.pid} on ${os.hostname()}`);
    expect(sameState!.code, sameState!.stderr).toBe(1);
    expect(sameState!.stderr).toContain(`is in use by another clawbridge (pid ${process.pid}`);
    // Refused before anything of theirs was built: no cursors, no outboxes, no connections.
    const made = existsSync(others[0]!.stateDir) ? readdirSync(others[0]!.stateDir) : [];
    expect(made).toEqual([]);
    expect(world.emu.wsClients()).toBe(1);
    expect(devices()).toEqual(firstDevices);
    expect(
      JSON.parse(readFileSync(path.join(world.root, "status", "clawbridge.lock"), "utf8")),
    ).toMatchObject({
      pid: process.pid,
      host: os.hostname(),
    });

    await waitFor(() => inboxProblems(world.root, expected).length === 0 && talk.settled, {
      timeoutMs: 30_000,
      what: () => inboxProblems(world.root, expected).join("; "),
    });
    await waitFor(
      () => Object.values(bridge.relay.stats()).every((s) => s.pending === 0 && s.inFlight === 0),
      {
        timeoutMs: 30_000,
        what: () => `all outboxes empty: ${JSON.stringify(bridge.relay.stats())}`,
      },
    );
    // Exactly once at the gateway, and counted once.
    const runs = countBy(agentRuns(world, "ai-pc").map((r) => r.idempotencyKey));
    expect([...runs.keys()].sort()).toEqual([...runsExpected].sort());
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(
      await bridge.metrics.value("envelopes_total", {
        route: "gateway",
        node: "ai-pc",
        outcome: "delivered",
      }),
    ).toBe(runsExpected.size);
    // Every post once (Feishu's uuid), the /tell answers once per thread.
    const posts = world.emu
      .messages()
      .filter((m) => m.senderAppId === world.emu.bridge.appId && m.origin === "api");
    expect([...countBy(posts.map((m) => m.uuid)).values()].every((n) => n === 1)).toBe(true);
    // Nothing to tell people: the share never failed.
    expect(await bridge.metrics.value("health_problem", { check: "shared_folder" })).toBe(0);
    talk.stop();
  });
});
