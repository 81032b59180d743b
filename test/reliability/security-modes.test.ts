import { chmodSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { shellWord, type DoctorJsonCheck } from "../../src/cli/doctor/index.js";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/spawn.js";
import { waitFor } from "../helpers/wait.js";

// The state folder holds queued message text, and in identity/ the device's private key and
// the gateways' device tokens: whoever reads the key can act as this paired bridge. The
// bridge creates them private whatever the umask; doctor says so when they are not.

const mode = (file: string) => statSync(file).mode & 0o777;

describe("state folder permissions", () => {
  it("a start under umask 000 leaves the state folder 0700 and the device key and tokens 0600; doctor reports wider modes", async () => {
    const world = await bridgeWorld();
    const identity = path.join(world.stateDir, "identity");
    const key = path.join(identity, "device.json");
    const tokens = path.join(identity, "device-tokens.json");
    const previous = process.umask(0o000);
    try {
      const { bridge } = await startWorldBridge(world);
      await waitFor(() => existsSync(tokens), { what: "a device token stored" });
      await bridge.stop(5_000);
    } finally {
      process.umask(previous);
    }
    expect(mode(world.stateDir)).toBe(0o700);
    expect(mode(identity)).toBe(0o700);
    expect(mode(key)).toBe(0o600);
    expect(mode(tokens)).toBe(0o600);

    // Restored from a backup that did not keep the modes: doctor says what is wrong, and how to fix it.
    chmodSync(world.stateDir, 0o755);
    chmodSync(key, 0o644);
    chmodSync(tokens, 0o640);
    const result = await runCli(["doctor", "--config", world.configPath, "--json"], {
      env: { ...world.env, LANG: "en_US.UTF-8" },
    });
    expect(result.code).toBe(1);
    const checks = (JSON.parse(result.stdout) as { checks: DoctorJsonCheck[] }).checks;
    const byId = (id: string) => checks.find((c) => c.id === id);
    expect(byId("state.dir")).toMatchObject({
      level: "warn",
      fix: `run \`chmod 700 ${shellWord(world.stateDir)}\``,
    });
    expect(byId("state.dir")!.detail).toContain(`${world.stateDir} is 0755`);
    expect(byId("state.device-key")).toMatchObject({
      level: "fail",
      fix: `run \`chmod 600 ${shellWord(key)}\``,
    });
    expect(byId("state.device-key")!.detail).toContain("0644");
    expect(byId("state.device-tokens")).toMatchObject({
      level: "fail",
      fix: `run \`chmod 600 ${shellWord(tokens)}\``,
    });
    // Doctor only reports: the modes are as it found them.
    expect(mode(key)).toBe(0o644);
  }, 60_000);
});
