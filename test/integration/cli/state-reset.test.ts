import { appendFileSync, existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { resetCommand } from "../../../src/cli/commands/state.js";
import { createContext } from "../../../src/cli/context.js";
import { loadOrCreateIdentity } from "../../../src/gateway/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { runCli } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

// `clawbridge state reset` on the state folder of a real bridge (the scenario world: Feishu
// emulator, fake gateways, a shared folder), the CLI in a child process as a user runs it.

const FORGOTTEN = ["mailbox", "outbox", "feishu"];

function seedLine(from: string, to: string, content: string): string {
  return `${JSON.stringify({ from, to, timestamp: "2026-11-25T18:40:00+08:00", type: "message", content })}\n`;
}

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

const reset = (world: BridgeWorld, ...args: string[]) =>
  runCli(["state", "reset", "--config", world.configPath, ...args], {
    env: { LANG: "en_US.UTF-8", ...world.env },
  });

/** A world whose bridge ran once: a /tell answered, so cursors, dedup ids and outboxes exist. */
async function worldThatRan(): Promise<BridgeWorld> {
  const world = await bridgeWorld();
  const { bridge } = await startWorldBridge(world);
  world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 你好", { mentions: ["bridge"] });
  await waitFor(() => world.emu.messages(world.emu.defaultChat).some((m) => m.text?.startsWith("[ai-pc]")), {
    what: "the [ai-pc] answer",
  });
  await bridge.stop(5_000);
  return world;
}

describe("clawbridge state reset", () => {
  it("refuses while a bridge holds the state folder, naming its pid and host; nothing is removed", async () => {
    const world = await bridgeWorld();
    await startWorldBridge(world);
    const result = await reset(world, "--yes");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `not resetting ${world.stateDir}: a bridge is running on it (pid ${process.pid} on ${os.hostname()}, since `,
    );
    expect(result.stderr).toContain(`fix: stop that bridge first (kill ${process.pid}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    for (const name of ["mailbox", "outbox", "feishu", "identity"])
      expect(existsSync(path.join(world.stateDir, name)), name).toBe(true);
  });

  it("says what will be lost, refuses without --yes off a terminal; --yes forgets it, keeps the device, and the bridge starts clean", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { requirePairing: true } } });
    // ai-pc approved this device before: a new key would have to be paired again.
    const identity = await loadOrCreateIdentity(world.stateDir);
    world.gateways["ai-pc"].approveDevice(identity.deviceId);
    const first = await startWorldBridge(world);
    world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc 你好", { mentions: ["bridge"] });
    await waitFor(
      () => world.emu.messages(world.emu.defaultChat).some((m) => m.text?.startsWith("[ai-pc]")),
      {
        what: "the [ai-pc] answer",
      },
    );
    // office-mac is down: a line for it waits in its outbox.
    await world.gateways["office-mac"].close();
    appendFileSync(
      path.join(world.root, "messages", "to-office-mac.jsonl"),
      seedLine("nas-agent", "office-mac", "整理一下周报"),
    );
    const outbox = path.join(world.stateDir, "outbox", "office-mac.jsonl");
    await waitFor(() => existsSync(outbox) && readFileSync(outbox, "utf8").includes("整理一下周报"), {
      what: "the delivery queued in office-mac's outbox",
    });
    await first.bridge.stop(5_000);
    // Written while the bridge is stopped: after the reset it is never delivered.
    const unread = seedLine("office-mac", "ai-pc", "停机时写的");
    appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), unread);
    const kept = ["identity/device.json", "identity/device-tokens.json", "tasks.jsonl"].map((file) => ({
      file,
      bytes: readFileSync(path.join(world.stateDir, file)),
    }));

    const refused = await reset(world);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`clawbridge state reset ${world.stateDir}`);
    expect(refused.stdout).toContain("This forgets, for good:");
    expect(refused.stdout).toMatch(
      /inbox cursors \(.*cursors\.json\): where the bridge stopped reading in \d+ inbox/,
    );
    const bytes = Number(
      /to-ai-pc\.jsonl: (\d+) byte\(s\) written after the bridge last read it/.exec(refused.stdout)?.[1],
    );
    expect(bytes).toBeGreaterThanOrEqual(Buffer.byteLength(unread));
    expect(refused.stdout).toContain("    office-mac: 1 delivery(ies) to its gateway");
    expect(refused.stdout).toMatch(/Feishu event dedup \(.*events\.log\): [1-9]\d* event and message id/);
    expect(refused.stdout).toContain("Kept:");
    expect(refused.stdout).toContain(`device id ${identity.deviceId}): no gateway has to approve it again`);
    // ai-pc and office-mac each handed a device token out.
    expect(refused.stdout).toMatch(/device tokens \(.*device-tokens\.json\): 2 node\(s\)/);
    expect(refused.stderr).toContain(
      `not resetting ${world.stateDir}: there is no terminal to ask, and --yes was not given`,
    );
    expect(refused.stderr).toContain(
      "fix: read what would be lost (above), then run `clawbridge state reset --yes`",
    );
    for (const name of FORGOTTEN) expect(existsSync(path.join(world.stateDir, name)), name).toBe(true);

    const done = await reset(world, "--yes");
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(`reset ${world.stateDir}: cursors, dedup windows and outboxes forgotten`);
    for (const name of FORGOTTEN) expect(existsSync(path.join(world.stateDir, name)), name).toBe(false);
    for (const { file, bytes } of kept)
      expect(readFileSync(path.join(world.stateDir, file)), file).toEqual(bytes);
    expect(existsSync(path.join(world.stateDir, "bridge.lock"))).toBe(false);

    // The next start: the same device (no new pairing), beginning at the end of every inbox.
    const runsBefore = agentRuns(world, "ai-pc").length;
    await startWorldBridge(world);
    await waitFor(() => world.gateways["ai-pc"].clients().some((c) => c.authenticated), {
      what: "ai-pc connected again",
    });
    expect(world.gateways["ai-pc"].clients().map((c) => c.deviceId)).toContain(identity.deviceId);
    expect(world.gateways["ai-pc"].pendingPairings()).toEqual([]);
    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      seedLine("office-mac", "ai-pc", "重置之后"),
    );
    await waitFor(() => agentRuns(world, "ai-pc").some((r) => r.message.includes("重置之后")), {
      what: "the line written after the restart delivered",
    });
    // Lines are read in file order: the one written while stopped was skipped, as the list said.
    const after = agentRuns(world, "ai-pc").slice(runsBefore);
    expect(after.some((r) => r.message.includes("停机时写的"))).toBe(false);
    expect(after).toHaveLength(1);
  });

  it("on a terminal it asks: anything but yes leaves the folder as it was; y resets", async () => {
    const world = await worldThatRan();
    const out: string[] = [];
    const ctx = { ...createContext("en"), out: (line: string) => void out.push(line) };
    const answer = (text: string) => {
      const input = new PassThrough();
      input.end(text);
      const output = new PassThrough();
      output.resume();
      return { input, output, interactive: true };
    };

    expect(await resetCommand(ctx, { state: world.stateDir }, answer("no\n"))).toBe(1);
    expect(out.at(-1)).toBe(`not reset: ${world.stateDir} is unchanged`);
    for (const name of FORGOTTEN) expect(existsSync(path.join(world.stateDir, name)), name).toBe(true);
    // Without a shared folder (only --state) the list cannot count unread lines, but the rest is there.
    expect(out).toContain("This forgets, for good:");

    out.length = 0;
    expect(await resetCommand(ctx, { state: world.stateDir }, answer(""))).toBe(1);

    out.length = 0;
    expect(await resetCommand(ctx, { state: world.stateDir }, answer("y\n"))).toBe(0);
    expect(out.at(-1)).toMatch(/^reset .*: cursors, dedup windows and outboxes forgotten/);
    for (const name of FORGOTTEN) expect(existsSync(path.join(world.stateDir, name)), name).toBe(false);
    expect(existsSync(path.join(world.stateDir, "identity", "device.json"))).toBe(true);

    // Again: nothing left to forget, and no question asked.
    out.length = 0;
    expect(await resetCommand(ctx, { state: world.stateDir }, answer(""))).toBe(0);
    expect(out).toEqual([`nothing to forget in ${world.stateDir}: no cursors, dedup windows or outboxes`]);
  });

  it("a state folder that does not exist: nothing to reset, exit 0, in the reader's language", async () => {
    const missing = path.join(tempDir(), "state");
    const en = await runCli(["state", "reset", "--state", missing], { env: { LANG: "en_US.UTF-8" } });
    expect(en.code).toBe(0);
    expect(en.stdout.trim()).toBe(`nothing to reset: ${missing} does not exist`);
    const zh = await runCli(["state", "reset", "--state", missing, "--lang", "zh-CN"]);
    expect(zh.stdout.trim()).toBe(`无需重置：${missing} 不存在`);
    expect(existsSync(missing)).toBe(false);

    const help = await runCli(["state", "reset", "--help"], { env: { LANG: "en_US.UTF-8" } });
    expect(help.stdout).toContain("--yes");
    expect(help.stdout).toContain("2  no terminal to ask and no --yes");
    expect(help.stdout).toContain("Kept: identity/");
  });
});
