import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, runCli, spawnTs } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { fakeGateway, GATEWAY_TOKEN } from "../../helpers/gateway.js";
import { waitFor } from "../../helpers/wait.js";

function configFixture(extra = "", url = "ws://127.0.0.1:18789") {
  const dir = path.join(tempDir(), "配置 目录");
  const shared = path.join(dir, "共享 盘", "Openclaw-Shared");
  mkdirSync(shared, { recursive: true });
  const file = path.join(dir, "clawbridge.json5");
  writeFileSync(
    file,
    `{
  // a mailbox-only setup
  mailbox: { root: "./共享 盘/Openclaw-Shared" },
  state: { dir: "./state" },
  // Any free port: doctor would otherwise try 8787 and 9464, which other tests may hold.
  http: { port: 0 },
  ops: { port: 0 },
  nodes: [ { name: "ai-pc", url: "${url}", token: "\${AI_PC_TOKEN}" }, { name: "nas-agent" } ],
  ${extra}
}`,
  );
  return { dir, shared, file };
}

const env = { AI_PC_TOKEN: GATEWAY_TOKEN, LANG: "en_US.UTF-8" };

describe("clawbridge send / tail", () => {
  it("send then tail --from-start --json round-trips an envelope", async () => {
    const shared = tempDir();
    const sent = await runCli([
      "send",
      "--shared",
      shared,
      "--from",
      "office-mac",
      "--to",
      "ai-pc",
      "--reply-to",
      "01HX",
      "帮我跑一下 benchmark",
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    const id = sent.stdout.trim();
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const tail = spawnTs("src/cli/main.ts", ["tail", "--shared", shared, "--from-start", "--json"]);
    const done = finished(tail);
    let out = "";
    tail.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => out.includes("\n"), { timeoutMs: 30_000, what: "tail output" });
    tail.kill("SIGTERM");
    const exit = await done;
    expect(exit.code).toBe(0);
    const envelope = JSON.parse(out.split("\n")[0]!);
    expect(envelope).toMatchObject({
      id,
      from: "office-mac",
      to: "ai-pc",
      type: "message",
      replyTo: "01HX",
      content: "帮我跑一下 benchmark",
    });
    expect(envelope.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  });

  it("tail prints new envelopes in the human format and reports bad lines on stderr", async () => {
    const shared = tempDir();
    mkdirSync(path.join(shared, "messages"));
    writeFileSync(path.join(shared, "messages", "to-ai-pc.jsonl"), '{"old":true}\n');
    const tail = spawnTs("src/cli/main.ts", ["tail", "--shared", shared]);
    const done = finished(tail);
    let out = "";
    let err = "";
    tail.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    tail.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
    await waitFor(() => err.includes("following"), { timeoutMs: 30_000 });
    const sent = await runCli([
      "send",
      "--shared",
      shared,
      "--from",
      "office-mac",
      "--to",
      "ai-pc",
      "line one\nline two",
    ]);
    expect(sent.code).toBe(0);
    writeFileSync(path.join(shared, "messages", "to-ai-pc.jsonl"), "{broken\n", { flag: "a" });
    await waitFor(() => out.includes("line two") && err.includes("invalid JSON"), {
      timeoutMs: 30_000,
      what: () => `the envelope and the bad-line report; stdout: ${out}; stderr: ${err}`,
    });
    tail.kill("SIGINT");
    await done;
    expect(out).toContain("office-mac → ai-pc  [message]");
    expect(out).toContain("\n    line one\n    line two");
    expect(out).not.toContain("old");
  });

  it("send refuses a recipient the config does not know, suggesting the near one", async () => {
    const fx = configFixture();
    const result = await runCli(
      ["send", "--config", fx.file, "--from", "office-mac", "--to", "ai-pcc", "hi"],
      { env },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"ai-pcc" is not a node in');
    expect(result.stderr).toContain('did you mean "ai-pc"');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("send to a missing shared folder fails with the fix, in Chinese when asked, no stack trace", async () => {
    const result = await runCli([
      "send",
      "--lang",
      "zh-CN",
      "--shared",
      path.join(tempDir(), "nope"),
      "--from",
      "a",
      "--to",
      "b",
      "x",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^错误: /);
    // The fix is in the reader's language too, not only the labels.
    expect(result.stderr).toContain("修复: 挂载共享");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("clawbridge doctor", () => {
  it("passes on a good config, shared folder and node, with ✓ lines", async () => {
    const fake = await fakeGateway();
    const fx = configFixture("", fake.url);
    const result = await runCli(["doctor", "--config", fx.file], { env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const label of [
      "config",
      "exists",
      "writable",
      "lock works",
      "Chinese file names round-trip",
      "change detection",
    ]) {
      expect(result.stdout).toMatch(new RegExp(`✓ .*${label}`));
    }
    const json = await runCli(["doctor", "--config", fx.file, "--json"], { env });
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining([
        "config.valid",
        "shared.exists",
        "shared.writable",
        "shared.lock",
        "shared.unicode-names",
      ]),
    );
  });

  it("fails with each config error's dotted key and fix, exit 2 (the config could not be loaded)", async () => {
    const fx = configFixture(`relay: { maxHops: "four" }, log: { levle: "info" },`);
    writeFileSync(
      fx.file,
      (await import("node:fs"))
        .readFileSync(fx.file, "utf8")
        .replace('name: "nas-agent"', 'name: "nas agent"'),
    );
    const result = await runCli(["doctor", "--config", fx.file, "--json"], { env });
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout);
    const keys = report.checks
      .filter((c: { ok: boolean }) => !c.ok)
      .map((c: { detail: string }) => c.detail.split(":")[0]);
    expect(keys).toEqual(expect.arrayContaining(["nodes[1].name", "relay.maxHops", "log.levle"]));
    for (const check of report.checks.filter((c: { ok: boolean }) => !c.ok)) expect(check.fix).toBeTruthy();
    const human = await runCli(["doctor", "--config", fx.file], { env });
    expect(human.stdout).toContain('✗ config: nodes[1].name: "nas agent" is not a valid node name');
    expect(human.stdout).toMatch(/fix: .*letters, digits/);
  });

  it("fails when the shared folder is missing, naming the fix", async () => {
    const fx = configFixture();
    writeFileSync(
      fx.file,
      (await import("node:fs")).readFileSync(fx.file, "utf8").replace("./共享 盘/Openclaw-Shared", "./gone"),
    );
    const result = await runCli(["doctor", "--config", fx.file], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ shared folder: exists: .*gone: ENOENT/);
    expect(result.stdout).toContain("fix: mount the share");
  });

  it("a missing environment variable is named with its key", async () => {
    const fx = configFixture();
    const result = await runCli(["doctor", "--config", fx.file], { env: { LANG: "en_US.UTF-8" } });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("nodes[0].token");
    expect(result.stdout).toContain("AI_PC_TOKEN");
    expect(result.stdout + result.stderr).not.toContain(GATEWAY_TOKEN);
  });
});

describe("clawbridge doctor: nodes", () => {
  it("a node that needs pairing: ✗ paired with the exact approve command; the token is never printed", async () => {
    const fake = await fakeGateway({ requirePairing: true });
    const fx = configFixture("", fake.url);
    const result = await runCli(["doctor", "--config", fx.file], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /✗ node ai-pc: paired: pairing required: this bridge's device is not approved yet \(request \S+\)/,
    );
    expect(result.stdout).toMatch(
      /fix: run `openclaw devices approve \S+ --url ws:\/\/127\.0\.0\.1:\d+ --token <your gateway token>` on ai-pc's computer/,
    );
    expect(result.stdout + result.stderr).not.toContain(GATEWAY_TOKEN);
    expect(fake.pendingPairings()).toHaveLength(1);
  });

  it("a wrong token: ✗ auth naming the variable; an unreachable node: ✗ reachable with the fix", async () => {
    const fake = await fakeGateway();
    const wrong = await runCli(["doctor", "--config", configFixture("", fake.url).file], {
      env: { ...env, AI_PC_TOKEN: "not-the-right-token-xyz" },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("✗ node ai-pc: auth: the gateway refused the token");
    expect(wrong.stdout).toContain("set the environment variable AI_PC_TOKEN");
    expect(wrong.stdout).not.toContain("not-the-right-token-xyz");
    const url = fake.url;
    await fake.close();
    const down = await runCli(["doctor", "--config", configFixture("", url).file, "--json"], { env });
    const report = JSON.parse(down.stdout);
    const reachable = report.checks.find((c: { id: string }) => c.id === "nodes.ai-pc.reachable");
    expect(reachable).toMatchObject({ ok: false });
    expect(reachable.detail).toContain("ECONNREFUSED");
    expect(reachable.fix).toBeTruthy();
  });
});
