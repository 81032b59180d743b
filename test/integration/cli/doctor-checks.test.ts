import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { DoctorJsonCheck } from "../../../src/cli/doctor/index.js";
import { DeviceTokenStore, loadOrCreateIdentity } from "../../../src/gateway/index.js";
import { FileQuarantine } from "../../../src/mailbox/index.js";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { runCli, type Finished } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";

// `clawbridge doctor`'s listener, quarantine and state-folder checks, its `--json` shape
// and its exit codes, run as a user runs it: the CLI in a child process.

const env = { LANG: "en_US.UTF-8" };

/** A mailbox-only config (no gateway, no Feishu) in a fresh folder; `extra` adds sections. */
function config(extra = ""): { file: string; stateDir: string } {
  const dir = path.join(tempDir(), "配置 目录");
  mkdirSync(path.join(dir, "shared"), { recursive: true });
  const file = path.join(dir, "clawbridge.json5");
  writeFileSync(
    file,
    `{
  mailbox: { root: "./shared" },
  state: { dir: "./state" },
  nodes: [ { name: "nas-agent" } ],
  ${extra}
}`,
  );
  return { file, stateDir: path.join(dir, "state") };
}

/** Any port free now on loopback (the listener is closed again). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Report {
  ok: boolean;
  checks: DoctorJsonCheck[];
}

const report = (result: Finished): Report => JSON.parse(result.stdout) as Report;
const check = (result: Finished, id: string): DoctorJsonCheck => {
  const found = report(result).checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in:\n${result.stdout}`);
  return found;
};

describe("clawbridge doctor: listeners", () => {
  it("a port another program holds: ✗ naming the address, with how to find the program; exit 1", async () => {
    // Accepts and never answers (doctor's /healthz probe must give up on it); reading keeps
    // the socket flowing, so it closes when doctor hangs up.
    const squatter = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const { port } = squatter.address() as net.AddressInfo;
    try {
      const { file } = config(`http: { host: "127.0.0.1", port: ${port} }, ops: { port: 0 },`);
      const human = await runCli(["doctor", "--config", file], { env });
      expect(human.code, human.stdout + human.stderr).toBe(1);
      expect(human.stdout).toContain(`✗ HTTP listener: port: 127.0.0.1:${port} is in use by another program`);
      expect(human.stdout).toContain(`fix: find it with \`ss -ltnp 'sport = :${port}'\``);
      expect(human.stdout).toContain("or set http.port to a free port");
      expect(human.stdout).toContain("✓ ops listener: port: 0: any free port, chosen at start");
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("1 check(s) failed");

      const json = await runCli(["doctor", "--config", file, "--json"], { env });
      expect(json.code).toBe(1);
      expect(check(json, "listeners.http.port")).toMatchObject({ ok: false, level: "fail" });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("the port of this state folder's running bridge: ✓ in use by it, naming its pid", async () => {
    const port = await freePort();
    const world = await bridgeWorld({
      configure: (c) => {
        c.http = { host: "127.0.0.1", port };
      },
    });
    await startWorldBridge(world);
    const result = await runCli(["doctor", "--config", world.configPath, "--json"], {
      env: { ...env, ...world.env },
    });
    const listener = check(result, "listeners.http.port");
    expect(listener).toMatchObject({ ok: true, level: "ok" });
    expect(listener.message).toContain(
      `127.0.0.1:${port} is in use by the running bridge of this state folder (pid ${process.pid} on `,
    );
  });

  it("a listener beyond loopback: ⚠ naming the key, with the fix; warnings leave the exit code 0", async () => {
    // Port 0: nothing is bound, so this test never listens beyond loopback itself.
    const { file } = config(`http: { host: "0.0.0.0", port: 0 }, ops: { host: "::", port: 0 },`);
    const human = await runCli(["doctor", "--config", file], { env });
    expect(human.code, human.stdout + human.stderr).toBe(0);
    expect(human.stdout).toContain(
      "⚠ HTTP listener: address: http.host is 0.0.0.0: other computers can connect",
    );
    expect(human.stdout).toContain("fix: set http.host to 127.0.0.1 unless Feishu's webhooks");
    expect(human.stdout).toContain("⚠ ops listener: address: ops.host is ::: other computers can connect");
    expect(human.stdout).toContain("fix: set ops.host to 127.0.0.1 unless a metrics scraper");
    expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("all checks passed, 2 warning(s)");

    const json = await runCli(["doctor", "--config", file, "--json"], { env });
    expect(json.code).toBe(0);
    expect(report(json).ok).toBe(true);
    expect(check(json, "listeners.http.host")).toMatchObject({ ok: true, level: "warn" });
    expect(check(json, "listeners.ops.host").fix).toContain("ops.host");

    const zh = await runCli(["doctor", "--config", file, "--lang", "zh-CN"], { env });
    expect(zh.stdout).toContain("⚠ HTTP 监听: 地址: http.host 为 0.0.0.0：其他电脑也能连接");
    expect(zh.stdout.trimEnd().split("\n").at(-1)).toBe("全部检查通过，2 项警告");

    const loopback = config(`http: { host: "localhost", port: 0 }, ops: { host: "::1", port: 0 },`);
    const quiet = await runCli(["doctor", "--config", loopback.file, "--json"], { env });
    expect(check(quiet, "listeners.http.host")).toMatchObject({ level: "ok" });
    expect(check(quiet, "listeners.ops.host").message).toContain(
      "::1: loopback, only this computer can connect",
    );
  });
});

describe("clawbridge doctor: quarantine and the state folder", () => {
  it("quarantined lines: ⚠ with their count, where they are and what to do", async () => {
    const { file, stateDir } = config(`http: { port: 0 }, ops: { port: 0 },`);
    mkdirSync(stateDir, { mode: 0o700 });
    const quarantine = new FileQuarantine(stateDir);
    for (const offset of [0, 40]) {
      await quarantine.put({
        at: "2026-02-14T18:40:00+08:00",
        file: "to-ai-pc.jsonl",
        offset,
        length: 39,
        reason: "not JSON",
      });
    }
    await quarantine.close();
    const result = await runCli(["doctor", "--config", file], { env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const where = path.join(stateDir, "quarantine.jsonl");
    expect(result.stdout).toContain(`⚠ shared folder: quarantined lines: 2 line(s) in ${where}`);
    expect(result.stdout).toMatch(/fix: each line of .* names the inbox file, the byte offset and why/);
    const json = await runCli(["doctor", "--config", file, "--json"], { env });
    expect(check(json, "shared.quarantine")).toMatchObject({ ok: true, level: "warn" });
  });

  it("a device key others can read: ✗ with the chmod; a wide state folder: ⚠; fixed, both pass", async () => {
    const { file, stateDir } = config(`http: { port: 0 }, ops: { port: 0 },`);
    mkdirSync(stateDir);
    chmodSync(stateDir, 0o755);
    await loadOrCreateIdentity(stateDir);
    await new DeviceTokenStore(stateDir).set("ai-pc", { token: "device-token-xyz", url: "ws://127.0.0.1:1" });
    const key = path.join(stateDir, "identity", "device.json");
    const tokens = path.join(stateDir, "identity", "device-tokens.json");
    chmodSync(key, 0o644);
    chmodSync(tokens, 0o640);

    const result = await runCli(["doctor", "--config", file], { env });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    // The folder holds a space and Chinese characters: the suggested command quotes it.
    expect(result.stdout).toContain(
      `✗ state folder: device key: ${key} is 0644: other users of this computer can read the device's private key`,
    );
    expect(result.stdout).toContain(`fix: run \`chmod 600 '${key}'\``);
    expect(result.stdout).toContain(`✗ state folder: device tokens: ${tokens} is 0640`);
    expect(result.stdout).toContain(`fix: run \`chmod 600 '${tokens}'\``);
    expect(result.stdout).toContain(`⚠ state folder: permissions: ${stateDir} is 0755`);
    expect(result.stdout).toContain(`fix: run \`chmod 700 '${stateDir}'\``);
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("2 check(s) failed");
    expect(result.stdout).not.toContain("device-token-xyz");

    const json = await runCli(["doctor", "--config", file, "--json"], { env });
    expect(check(json, "state.device-key")).toMatchObject({ ok: false, level: "fail" });
    expect(check(json, "state.dir")).toMatchObject({ ok: true, level: "warn" });

    chmodSync(stateDir, 0o700);
    chmodSync(key, 0o600);
    chmodSync(tokens, 0o600);
    const fixed = await runCli(["doctor", "--config", file], { env });
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(fixed.stdout).toContain(`✓ state folder: device key: ${key} (0600)`);
    expect(fixed.stdout).toContain(`✓ state folder: permissions: ${stateDir} (0700)`);
    expect(fixed.stdout.trimEnd().split("\n").at(-1)).toBe("all checks passed");
    // Doctor only reads: it never changes a mode itself.
    expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it("a state folder that does not exist yet is fine: the first start creates it", async () => {
    const { file, stateDir } = config(`http: { port: 0 }, ops: { port: 0 },`);
    const json = await runCli(["doctor", "--config", file, "--json"], { env });
    expect(json.code).toBe(0);
    expect(check(json, "state.dir").message).toContain(`${stateDir} does not exist yet`);
  });
});

describe("clawbridge doctor: --json and exit codes", () => {
  it("--json is one object {ok, checks: [{id, ok, level, message, fix}]}; 0 all passed", async () => {
    const { file } = config(`http: { port: 0 }, ops: { port: 0 },`);
    const result = await runCli(["doctor", "--config", file, "--json"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    const parsed = report(result);
    expect(parsed.ok).toBe(true);
    expect(parsed.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        "config.valid",
        "listeners.http.host",
        "listeners.http.port",
        "listeners.ops.host",
        "listeners.ops.port",
        "shared.exists",
        "shared.quarantine",
        "nodes.nas-agent.mailbox",
        "feishu.configured",
        "state.dir",
      ]),
    );
    for (const c of parsed.checks) {
      expect(c).toEqual(
        expect.objectContaining({
          id: expect.any(String),
          ok: expect.any(Boolean),
          message: expect.any(String),
        }),
      );
      expect(["ok", "warn", "fail", "skip"]).toContain(c.level);
      expect(c.message).toBe(`${c.label}: ${c.detail}`);
    }
  });

  it("2 when the config cannot be found or loaded, with the fix; the codes are in --help", async () => {
    const missing = await runCli(["doctor", "--json"], {
      cwd: tempDir(),
      env: { ...env, CLAWBRIDGE_CONFIG: "" },
    });
    expect(missing.code).toBe(2);
    const parsed = report(missing);
    expect(parsed.ok).toBe(false);
    expect(parsed.checks[0]).toMatchObject({ id: "config.found", ok: false, level: "fail" });
    expect(parsed.checks[0]!.fix).toContain("clawbridge.json5");
    expect(parsed.checks.at(-1)).toMatchObject({ level: "skip" });

    const { file } = config(`http: { port: "eighty" },`);
    const invalid = await runCli(["doctor", "--config", file], { env });
    expect(invalid.code).toBe(2);
    expect(invalid.stdout).toMatch(/✗ config: http\.port: /);

    const help = await runCli(["doctor", "--help"], { env });
    expect(help.stdout).toContain("Exit codes:");
    expect(help.stdout).toContain("0  every check passed (⚠ warnings do not fail)");
    expect(help.stdout).toContain("1  at least one check failed (✗)");
    expect(help.stdout).toContain("2  the config could not be found or loaded");
    const zh = await runCli(["doctor", "--help", "--lang", "zh-CN"], { env });
    expect(zh.stdout).toContain("退出码：");
  });
});
