import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { readDeadLetters } from "../../../src/relay/index.js";
import { bridgeWorld, type BridgeWorld } from "../../helpers/bridge.js";
import { humanLines, launchCli, type CliProcess } from "../../helpers/cli-process.js";
import { GATEWAY_TOKEN } from "../../helpers/gateway.js";
import { runCli } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

// `clawbridge start` as a user runs it: the real CLI in a child process (through tsx), the
// Feishu emulator and the fake gateways in this one, a temp shared folder. Secrets reach the
// child only through the environment (the world's config says `${FEISHU_APP_SECRET}` …).

/** How long a graceful stop may take (start.ts's STOP_TIMEOUT_MS). */
const STOP_BOUND_MS = 10_000;
/** A lease not renewed for this long is taken over from anywhere: lease.ts's DEFAULT_LEASE_TTL_MS. */
const LEASE_TTL_MS = 30_000;
/** How often the lease is renewed (and a takeover noticed): lease.ts's DEFAULT_LEASE_HEARTBEAT_MS. */
const LEASE_HEARTBEAT_MS = 10_000;
const RUNNING =
  /clawbridge is running on (http:\/\/127\.0\.0\.1:\d+) \(config (.+); metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\); Ctrl-C stops it/;
const STACK_FRAME = /\n\s+at /;

const envOf = (world: BridgeWorld): NodeJS.ProcessEnv => ({
  ...world.env,
  LANG: "en_US.UTF-8",
  CLAWBRIDGE_CONFIG: "",
});

function start(world: BridgeWorld, extra: string[] = []): CliProcess {
  return launchCli(["start", "--config", world.configPath, ...extra], { env: envOf(world) });
}

/** Waits for the "running" line; returns the URL it names. */
async function running(bridge: CliProcess): Promise<string> {
  return (await bridge.waitForStderr(RUNNING))[1]!;
}

/** Sends SIGTERM and waits for the exit; returns it with how long it took. */
async function terminate(bridge: CliProcess) {
  const sent = performance.now();
  bridge.child.kill("SIGTERM");
  const exit = await bridge.exit;
  return { ...exit, stopMs: Math.round(performance.now() - sent) };
}

/** The exit, or a failure naming what the process said if it runs on past `ms`. */
async function exitWithin(bridge: CliProcess, ms: number) {
  let exited = false;
  void bridge.exit.then(() => (exited = true));
  await waitFor(() => exited, {
    timeoutMs: ms,
    intervalMs: 50,
    what: () => `the exit; stderr:\n${bridge.said()}`,
  });
  return bridge.exit;
}

async function readyz(url: string) {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

interface ReadyBody {
  ready: boolean;
  parts: Record<string, { ready: boolean; detail?: string }>;
}

/** The same world's config with another state folder `name` (the same shared folder). */
function withStateDir(world: BridgeWorld, name: string): string {
  const config = JSON.parse(readFileSync(world.configPath, "utf8")) as { state: { dir: string } };
  config.state.dir = path.join(path.dirname(world.stateDir), name);
  const file = path.join(path.dirname(world.configPath), `${name}.json5`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

const inboxOf = (world: BridgeWorld, node: string) => path.join(world.root, "messages", `to-${node}.jsonl`);
const leaseFile = (world: BridgeWorld) => path.join(world.root, "status", "clawbridge.lock");
const stateLockFile = (world: BridgeWorld) => path.join(world.stateDir, "bridge.lock");

function seedLine(from: string, to: string, content: string): string {
  return `${JSON.stringify({ from, to, timestamp: "2026-11-25T18:40:00+08:00", type: "message", content })}\n`;
}

const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

const delivered = (world: BridgeWorld, node: "ai-pc" | "office-mac", text: string) =>
  agentRuns(world, node).filter((r) => r.message.includes(text));

describe("clawbridge start", () => {
  it("serves: says where, /healthz ok, /readyz 200 once Feishu is connected, relays an inbox line", async () => {
    const world = await bridgeWorld();
    const bridge = start(world);
    const [, url, config] = await bridge.waitForStderr(RUNNING);
    expect(config).toBe(world.configPath);

    const health = await fetch(`${url!}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await health.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ok", version: expect.any(String), uptimeS: expect.any(Number) });
    expect(Object.keys(body.relay as object)).toEqual(expect.arrayContaining(["ai-pc", "office-mac"]));

    const ready = await waitFor(
      async () => {
        const answer = await readyz(url!);
        return answer.status === 200 ? answer.body : undefined;
      },
      { what: "/readyz 200" },
    );
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.parts).sort()).toEqual([
      "feishu",
      "mailbox",
      "node:ai-pc",
      "node:nas-agent",
      "node:office-mac",
      "state",
    ]);
    expect(ready.parts.feishu).toEqual({ ready: true, detail: "connected" });

    // It serves: a line another agent appends to ai-pc's inbox reaches ai-pc's gateway.
    appendFileSync(inboxOf(world, "ai-pc"), seedLine("office-mac", "ai-pc", "帮我跑一下 benchmark"));
    const run = await waitFor(() => delivered(world, "ai-pc", "帮我跑一下 benchmark")[0], {
      what: "the inbox line at ai-pc's gateway",
    });
    expect(run.sessionKey).toBe("agent:main:clawbridge:from-office-mac");
    expect(run.idempotencyKey).toMatch(/\S/);

    const exit = await terminate(bridge);
    expect(exit.code, exit.stderr).toBe(0);
    // Secrets came through the environment and never come out, not even in the debug log.
    expect(exit.stdout + exit.stderr).not.toContain(world.emu.bridge.appSecret);
    expect(exit.stdout + exit.stderr).not.toContain(GATEWAY_TOKEN);
  });

  it("the lease: a second bridge on the share refuses naming the holder; one whose lease is taken over exits 1", async () => {
    const world = await bridgeWorld();
    const first = start(world);
    const url = await running(first);
    const lease = leaseFile(world);
    const holder = JSON.parse(readFileSync(lease, "utf8")) as Record<string, unknown>;
    expect(holder).toMatchObject({ host: os.hostname(), pid: first.pid });

    // Same shared folder, other state folders; the second asks for Chinese, whatever feishu.locale says.
    const began = performance.now();
    const [second, zh] = await Promise.all([
      runCli(["start", "--config", withStateDir(world, "state-2")], { env: envOf(world) }),
      runCli(["start", "--lang", "zh-CN", "--config", withStateDir(world, "state-3")], { env: envOf(world) }),
    ]);
    const tookMs = performance.now() - began;
    expect(second.code).toBe(1);
    expect(tookMs).toBeLessThan(20_000);
    console.info(
      `start.test: the second bridge was refused after ${Math.round(tookMs)} ms (process start included)`,
    );
    const host = escape(os.hostname());
    expect(humanLines(second.stderr)).toMatch(
      new RegExp(
        `^error: the shared folder ${escape(world.root)} is already served by another clawbridge: ${escape(lease)} is held by pid ${first.pid} on ${host} since ${escape(String(holder.since))}, last heartbeat \\S+ \\([\\d.]+ s ago\\)\n` +
          escape(
            `fix: stop the clawbridge on ${os.hostname()} (pid ${first.pid}) first; if it died, wait 30 s and start again — a lease without a heartbeat for that long is taken over. Never delete ${lease} by hand while it runs`,
          ) +
          "$",
      ),
    );
    expect(second.stderr).not.toMatch(STACK_FRAME);
    expect(second.stderr).not.toContain("clawbridge is running");
    expect(zh.code).toBe(1);
    expect(humanLines(zh.stderr)).toMatch(
      new RegExp(
        `^错误: 共享文件夹 ${escape(world.root)} 已由另一个 clawbridge 服务：${escape(lease)} 由 ${host} 上的进程 ${first.pid} 持有，.*\n修复: 先停止 ${host} 上的 clawbridge（进程 ${first.pid}）`,
      ),
    );
    // The first bridge is untouched: still the holder, still serving.
    expect(JSON.parse(readFileSync(lease, "utf8"))).toMatchObject({ pid: first.pid });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // Another bridge takes the share over (as one does after 30 s without a heartbeat): at its
    // next heartbeat the first notices, stops serving and exits 1.
    const other = { host: "other-host", pid: 4242, since: "2026-11-25T10:40:00.000Z" };
    writeFileSync(`${lease}.tmp`, `${JSON.stringify({ ...other, heartbeat: other.since })}\n`);
    renameSync(`${lease}.tmp`, lease);
    const lost = await exitWithin(first, LEASE_HEARTBEAT_MS + 5_000);
    expect(lost.code).toBe(1);
    expect(humanLines(lost.stderr).split("\n").slice(-2)).toEqual([
      `error: lost the lease ${lease} on the shared folder: pid 4242 on other-host holds it now (since ${other.since})`,
      "fix: this bridge must stop serving the shared folder; make sure only one clawbridge uses it, then restart this one",
    ]);
    expect(lost.stderr).not.toMatch(STACK_FRAME);
    // It stopped serving, left the other's lease alone and freed its state folder.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(JSON.parse(readFileSync(lease, "utf8"))).toMatchObject(other);
    expect(existsSync(stateLockFile(world))).toBe(false);
  });

  it("a second bridge on the same state folder refuses, naming the pid and the folder", async () => {
    const world = await bridgeWorld();
    const first = start(world);
    await running(first);
    const second = await runCli(["start", "--config", world.configPath], { env: envOf(world) });
    expect(second.code).toBe(1);
    const said = humanLines(second.stderr);
    expect(said).toMatch(
      new RegExp(
        `^error: the state folder ${escape(world.stateDir)} is in use by another clawbridge \\(pid ${first.pid} on ${escape(os.hostname())}, since \\S+\\)$`,
        "m",
      ),
    );
    expect(said).toContain(
      `fix: stop that process first (kill ${first.pid}) or give this one another state.dir`,
    );
    expect(second.stderr).not.toMatch(STACK_FRAME);
    // Refused before touching anything of the first one's.
    expect(JSON.parse(readFileSync(stateLockFile(world), "utf8"))).toMatchObject({ pid: first.pid });
    expect(JSON.parse(readFileSync(leaseFile(world), "utf8"))).toMatchObject({ pid: first.pid });
    expect((await terminate(first)).code).toBe(0);
  });

  it("SIGTERM stops within the bound and frees the lease; restarts take over at once (after SIGKILL too); a run in flight is cut at the bound", async () => {
    const world = await bridgeWorld();
    const first = start(world);
    const url = await running(first);
    await waitFor(async () => (await readyz(url)).status === 200, { what: "/readyz 200" });
    expect(existsSync(leaseFile(world))).toBe(true);

    const stopped = await terminate(first);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stopMs).toBeLessThan(STOP_BOUND_MS);
    expect(humanLines(stopped.stderr)).toContain(
      "SIGTERM: stopping (pending work stays in the outbox for the next start)",
    );
    expect(stopped.stderr).not.toMatch(STACK_FRAME);
    expect(existsSync(leaseFile(world))).toBe(false);
    expect(existsSync(stateLockFile(world))).toBe(false);

    // A restart needs no waiting for the lease to go stale (30 s): it is gone.
    const began = performance.now();
    const second = start(world);
    await running(second);
    const restartMs = performance.now() - began;
    expect(restartMs).toBeLessThan(LEASE_TTL_MS - 5_000);
    expect(JSON.parse(readFileSync(leaseFile(world), "utf8"))).toMatchObject({ pid: second.pid });

    // A crash leaves both locks behind; the next start on this host sees their pid is gone.
    second.child.kill("SIGKILL");
    await second.exit;
    expect(JSON.parse(readFileSync(leaseFile(world), "utf8"))).toMatchObject({ pid: second.pid });
    // What agents write while the bridge is down waits in the inbox for the next start.
    appendFileSync(inboxOf(world, "ai-pc"), seedLine("office-mac", "ai-pc", "while it was down"));
    const third = start(world);
    await running(third);
    expect(JSON.parse(readFileSync(leaseFile(world), "utf8"))).toMatchObject({ pid: third.pid });
    expect(third.stderr()).toContain(
      `taking over our leftover lease: pid ${second.pid} on this host is gone`,
    );
    expect(third.stderr()).toContain(`taking over the state lock of pid ${second.pid}, which is gone`);
    await waitFor(() => delivered(world, "ai-pc", "while it was down").length > 0, {
      what: "the line written while the bridge was down",
    });

    // A delivery still running at SIGTERM (ai-pc's agent never finishes this one) does not hold
    // the process past the bound; it stays in the outbox, and the next start has it pending again.
    world.gateways["ai-pc"].setScript({ kind: "stall" });
    appendFileSync(inboxOf(world, "ai-pc"), seedLine("office-mac", "ai-pc", "a long job"));
    const run = await waitFor(() => delivered(world, "ai-pc", "a long job")[0], {
      what: "the long job at ai-pc's gateway",
    });
    const cut = await terminate(third);
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stopMs).toBeGreaterThanOrEqual(STOP_BOUND_MS - 100);
    expect(cut.stopMs).toBeLessThan(STOP_BOUND_MS + 2_000);
    expect(cut.stderr).toContain("not everything stopped within the bound");
    // It is still in the outbox for the next start, which sends it again under the same key.
    expect(readFileSync(path.join(world.stateDir, "outbox", "ai-pc.jsonl"), "utf8")).toContain(
      run.idempotencyKey,
    );
    const fourth = start(world);
    await running(fourth);
    // The fake aborts a stalled run when the socket that started it drops (a real gateway runs
    // on), and answers the repeated key with that end: an aborted run is not run again behind
    // whoever stopped it — it is a dead letter, for a person to retry.
    const letters = await waitFor(async () => {
      const list = await readDeadLetters(world.stateDir);
      return list.length > 0 ? list : undefined;
    });
    expect(letters.map((l) => [l.id, l.reason.code])).toEqual([[run.idempotencyKey, "CB_GATEWAY_ABORTED"]]);
    fourth.child.kill("SIGKILL");
    console.info(
      `start.test: SIGTERM stop ${stopped.stopMs} ms idle, ${cut.stopMs} ms with a run in flight; restart ${Math.round(restartMs)} ms`,
    );
  }, 90_000);

  it("a first start begins at the end of the inboxes; --replay delivers what they already hold", async () => {
    // Two fresh worlds side by side, each with a line written before its first start.
    const [plain, replayed] = await Promise.all([bridgeWorld(), bridgeWorld()]);
    const old = "written before the first start";
    for (const world of [plain, replayed])
      appendFileSync(inboxOf(world, "ai-pc"), seedLine("office-mac", "ai-pc", old));
    const first = start(plain);
    const second = start(replayed, ["--replay"]);
    await Promise.all([running(first), running(second)]);

    // Same sender, same session: delivered in file order, so the marker arrives after the old line would.
    appendFileSync(inboxOf(plain, "ai-pc"), seedLine("office-mac", "ai-pc", "marker after the start"));
    await waitFor(() => delivered(plain, "ai-pc", "marker after the start").length > 0, {
      what: "the marker at ai-pc's gateway",
    });
    expect(delivered(plain, "ai-pc", old)).toEqual([]);

    await waitFor(() => delivered(replayed, "ai-pc", old).length > 0, { what: "the old line, replayed" });
    expect(delivered(replayed, "ai-pc", old)).toHaveLength(1);
    const exits = await Promise.all([terminate(first), terminate(second)]);
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
  });

  it("without a config: exit 1 with the message and the fix, in English and in Chinese", async () => {
    const cwd = tempDir();
    const env = { CLAWBRIDGE_CONFIG: "", LANG: "en_US.UTF-8" };
    const missing = path.join(cwd, "nope.json5");
    const [none, zh, named, namedZh] = await Promise.all([
      runCli(["start"], { cwd, env }),
      runCli(["start", "--lang", "zh-CN"], { cwd, env }),
      runCli(["start", "--config", missing], { cwd, env }),
      runCli(["start", "--lang", "zh-CN", "--config", missing], { cwd, env }),
    ]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      "error: clawbridge start needs a config file\n" +
        "fix: pass --config F, set CLAWBRIDGE_CONFIG, or copy config/clawbridge.example.json5 to clawbridge.json5\n",
    );
    expect(zh.code).toBe(1);
    expect(zh.stderr).toBe(
      "错误: clawbridge start 需要配置文件\n" +
        "修复: 使用 --config F、设置 CLAWBRIDGE_CONFIG，或把 config/clawbridge.example.json5 复制为 clawbridge.json5\n",
    );
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(new RegExp(`^error: config file ${escape(missing)} does not exist\nfix: `));
    expect(namedZh.code).toBe(1);
    expect(namedZh.stderr).toMatch(new RegExp(`^错误: 配置文件 ${escape(missing)} 不存在\n修复: `));
    for (const result of [none, zh, named, namedZh]) expect(result.stderr).not.toMatch(STACK_FRAME);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
