import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import type { DoctorCheck } from "../../../src/cli/doctor/index.js";
import type { FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuEmulator } from "../../helpers/feishu.js";
import { runCli, type Finished } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";

// `clawbridge doctor`'s Feishu section against the loopback emulator: the CLI runs in a child
// process (as a user runs it), the emulator in this one; the app secret reaches the child
// only through the environment, as the config's `${FEISHU_APP_SECRET}` reference.

let emu: FeishuEmulator;

// Closed after each test by the helper.
beforeEach(async () => {
  emu = await feishuEmulator();
});

/** A valid config apart from the Feishu section: a temp shared folder, no nodes. */
function configWith(feishu: string, extra = ""): string {
  const dir = tempDir();
  mkdirSync(path.join(dir, "shared"));
  const file = path.join(dir, "clawbridge.json5");
  writeFileSync(
    file,
    `{
  mailbox: { root: "./shared" },
  state: { dir: "./state" },
  // Any free port (doctor would otherwise try 8787 and 9464, which other tests may hold).
  ops: { port: 0 },
  ${extra.includes("http:") ? "" : "http: { port: 0 },"}
  feishu: {
    appId: "${emu.bridge.appId}",
    appSecret: "\${FEISHU_APP_SECRET}",
    domain: "${emu.url}",
    ${feishu}
  },
  ${extra}
}`,
  );
  return file;
}

/** Runs doctor with the emulator's (or the given) app secret in the environment. */
async function doctor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  const result = await runCli(["doctor", ...args], {
    env: { FEISHU_APP_SECRET: emu.bridge.appSecret, LANG: "en_US.UTF-8", ...env },
  });
  // Whatever the outcome, the app secret is never printed.
  expect(result.stdout + result.stderr).not.toContain(emu.bridge.appSecret);
  return result;
}

const feishuChecks = (result: Finished): DoctorCheck[] =>
  (JSON.parse(result.stdout) as { checks: DoctorCheck[] }).checks.filter((c) => c.section === "feishu");

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("clawbridge doctor: Feishu", () => {
  it("a good app in websocket mode: ✓ credentials, bot, long connection and the group; exit 0", async () => {
    const file = configWith(`mode: "websocket", chats: ["${emu.defaultChat}"],`);
    const result = await doctor(["--config", file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`✓ Feishu: credentials: tenant access token obtained (${emu.url})`);
    expect(out).toContain(`✓ Feishu: bot: ${emu.bridge.botName} (open_id ${emu.bridge.botOpenId})`);
    expect(out).toContain("✓ Feishu: long connection: Feishu accepted the long connection");
    expect(out).toContain(`✓ Feishu: group ${emu.defaultChat}: the bot is in “clawbridge group”`);
    expect(out).toMatch(
      /✓ Feishu: to enable in the developer console: .*Receive events through persistent connection/,
    );
    expect(out).not.toContain("✗");
    expect(out.trimEnd().split("\n").at(-1)).toBe("all checks passed");
    // The SDK's own chatter (long connection, token manager) does not reach the terminal.
    expect(result.stderr).toBe("");
    // The same SDK calls the bridge makes: a token, bot info, the long-connection endpoint, the chat.
    expect(emu.callsTo("/open-apis/auth/v3/tenant_access_token/internal")[0]).toMatchObject({ status: 200 });
    expect(emu.callsTo("/open-apis/bot/v3/info")[0]).toMatchObject({ status: 200, code: 0 });
    expect(emu.callsTo("/callback/ws/endpoint")[0]).toMatchObject({ status: 200, code: 0 });
    expect(emu.callsTo(`/open-apis/im/v1/chats/${emu.defaultChat}`)[0]).toMatchObject({ status: 200 });
  });

  it("--json: section feishu with stable ids", async () => {
    const file = configWith(`chats: ["${emu.defaultChat}"],`);
    const result = await doctor(["--config", file, "--json"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: DoctorCheck[] };
    expect(report.ok).toBe(true);
    const checks = feishuChecks(result);
    expect(checks.map((c) => c.id)).toEqual([
      "feishu.credentials",
      "feishu.bot",
      "feishu.long-connection",
      `feishu.chat.${emu.defaultChat}`,
      "feishu.setup",
    ]);
    for (const check of checks) expect(check).toMatchObject({ section: "feishu", ok: true });
    expect(checks.find((c) => c.id === "feishu.bot")!.detail).toContain(emu.bridge.botOpenId);
    // The other sections are there too (the Feishu section does not replace them).
    expect(report.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining(["config.valid", "shared.exists", "nodes.none"]),
    );
  });

  it("a wrong app secret: ✗ credentials naming FEISHU_APP_SECRET, no secret printed, later checks absent, exit 1", async () => {
    const wrong = randomBytes(16).toString("hex");
    const file = configWith(`chats: ["${emu.defaultChat}"],`);
    const result = await doctor(["--config", file], { FEISHU_APP_SECRET: wrong });
    expect(result.code).toBe(1);
    const out = result.stdout;
    expect(out).toMatch(/✗ Feishu: credentials: .*app secret invalid \(code 10014\)/);
    expect(out).toMatch(
      /fix: check feishu\.appId and the App Secret \(the environment variable FEISHU_APP_SECRET\)/,
    );
    expect(out + result.stderr).not.toContain(wrong);
    expect(out).not.toMatch(/Feishu: (bot|long connection|group)/);
    expect(out.trimEnd().split("\n").at(-1)).toBe("1 check(s) failed");
    // Only the token was asked for: nothing else ran on refused credentials.
    expect(emu.calls.map((c) => c.path)).toEqual(["/open-apis/auth/v3/tenant_access_token/internal"]);

    const json = await doctor(["--config", file, "--json"], { FEISHU_APP_SECRET: wrong });
    expect(json.code).toBe(1);
    expect(json.stdout).not.toContain(wrong);
    const checks = feishuChecks(json);
    const credentials = checks.find((c) => c.id === "feishu.credentials");
    expect(credentials).toMatchObject({ ok: false });
    expect(credentials!.fix).toContain("FEISHU_APP_SECRET");
    for (const check of checks.filter((c) => c.id !== "feishu.credentials")) {
      expect(check.ok || check.skipped, check.id).toBe(true);
      expect(check.id).not.toMatch(/^feishu\.(bot|long-connection|chat)/);
    }
  });

  it("a group the bot is not in: ✗ for that group with the add-the-bot fix; the others still ✓", async () => {
    const alice = emu.addPerson({ name: "Alice" });
    const outside = emu.createChat({ name: "no bot here", members: [alice] });
    const file = configWith(`chats: ["${emu.defaultChat}", "${outside}"],`);
    const result = await doctor(["--config", file]);
    expect(result.code).toBe(1);
    const out = result.stdout;
    expect(out).toContain(`✓ Feishu: group ${emu.defaultChat}: the bot is in “clawbridge group”`);
    expect(out).toMatch(
      new RegExp(
        `✗ Feishu: group ${escape(outside)}: .*bot not in chat \\(code 230002\\).*\\n\\s+fix: add the bot to that group \\(group settings → Group bots → Add bot\\), or remove the id from feishu\\.chats`,
      ),
    );
    expect(out).toContain("✓ Feishu: credentials");
    expect(out).toContain("✓ Feishu: bot");
    expect(out.trimEnd().split("\n").at(-1)).toBe("1 check(s) failed");
  });

  it("webhook mode: the webhook line names /feishu/events and /feishu/cards; loopback gets the reverse-proxy fix", async () => {
    const encryptKey = randomBytes(12).toString("hex");
    const env = { FEISHU_ENCRYPT_KEY: encryptKey };
    const file = configWith(`mode: "webhook", encryptKey: "\${FEISHU_ENCRYPT_KEY}",`);
    const human = await doctor(["--config", file], env);
    expect(human.code, human.stdout + human.stderr).toBe(0);
    expect(human.stdout).toContain(
      "✓ Feishu: webhook: Feishu must reach POST http://127.0.0.1:0/feishu/events and http://127.0.0.1:0/feishu/cards",
    );
    expect(human.stdout).toContain(
      "http.host is 127.0.0.1: Feishu cannot reach it without a reverse proxy or tunnel",
    );
    expect(human.stdout).toMatch(
      /✓ Feishu: to enable in the developer console: .*request URL …\/feishu\/events/,
    );
    expect(human.stdout).not.toContain("long connection");
    expect(human.stdout + human.stderr).not.toContain(encryptKey);
    // No long connection is opened in webhook mode.
    expect(emu.callsTo("/callback/ws/endpoint")).toHaveLength(0);

    const json = await doctor(["--config", file, "--json"], env);
    const checks = feishuChecks(json);
    expect(checks.map((c) => c.id)).toEqual([
      "feishu.credentials",
      "feishu.bot",
      "feishu.webhook",
      "feishu.chats",
      "feishu.setup",
    ]);
    const webhook = checks.find((c) => c.id === "feishu.webhook")!;
    expect(webhook.ok).toBe(true);
    expect(webhook.fix).toContain("reverse proxy");
    expect(webhook.fix).toContain("http://127.0.0.1:0");

    // A public listener: the routes without the loopback remark or fix.
    const exposed = configWith(
      `mode: "webhook", encryptKey: "\${FEISHU_ENCRYPT_KEY}",`,
      // Port 0: doctor checks a fixed port by listening on it, and tests stay on loopback.
      `http: { host: "0.0.0.0", port: 0 },`,
    );
    const open = feishuChecks(await doctor(["--config", exposed, "--json"], env)).find(
      (c) => c.id === "feishu.webhook",
    )!;
    expect(open.detail).toContain("http://0.0.0.0:0/feishu/events and http://0.0.0.0:0/feishu/cards");
    expect(open.detail).not.toContain("cannot reach");
    expect(open.fix).toBeUndefined();
  });

  it("Feishu not reachable (connection refused, no timeout): ✗ credentials with the network fix", async () => {
    const file = configWith(`chats: ["${emu.defaultChat}"],`);
    const url = emu.url;
    await emu.close();
    const result = await doctor(["--config", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /✗ Feishu: credentials: Feishu tenant access token: no answer \(ECONNREFUSED\)/,
    );
    expect(result.stdout).toContain(`fix: this machine must reach ${url} (HTTPS)`);
    expect(result.stdout).not.toMatch(/Feishu: (bot|long connection|group)/);
  });

  it("--lang zh-CN prints the Chinese labels and fixes", async () => {
    const file = configWith(`chats: ["${emu.defaultChat}"],`);
    const result = await doctor(["--config", file, "--lang", "zh-CN"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`✓ 飞书: 凭证: 已获取 tenant access token（${emu.url}）`);
    expect(out).toContain(`✓ 飞书: 机器人: ${emu.bridge.botName}（open_id ${emu.bridge.botOpenId}）`);
    expect(out).toContain("✓ 飞书: 长连接: 飞书已接受长连接");
    expect(out).toContain(`✓ 飞书: 群 ${emu.defaultChat}: 机器人在群“clawbridge group”中`);
    expect(out).toMatch(/✓ 飞书: 需在开发者后台开启: .*使用长连接接收事件\/回调/);
    expect(out).not.toContain("Feishu:");
    expect(out.trimEnd().split("\n").at(-1)).toBe("全部检查通过");

    const wrong = randomBytes(16).toString("hex");
    const refused = await doctor(["--config", file, "--lang", "zh-CN"], { FEISHU_APP_SECRET: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/✗ 飞书: 凭证: .*\(code 10014\)/);
    expect(refused.stdout).toContain(
      "修复: 对照开发者后台（open.feishu.cn/app → 你的应用 → 凭证与基础信息）检查 feishu.appId 和 App Secret（环境变量 FEISHU_APP_SECRET）",
    );
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
  });
});
