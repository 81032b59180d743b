import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger, SecretRegistry } from "../../src/core/index.js";
import { demoWebRoutes } from "../../src/demo/web/index.js";
import type { ScriptContext, ReplyScript } from "../../src/sim/fake-gateway.js";
import { feishuEmulator } from "../helpers/feishu.js";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { fakeGateway, GATEWAY_TOKEN } from "../helpers/gateway.js";
import { logSink } from "../helpers/log-sink.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";

// Every configured secret, made up for this run and given by environment as the product
// takes them, must appear nowhere the bridge writes or answers: log lines, chat messages and
// cards, the shared folder, the state folder (but the device key), /metrics, /healthz,
// /readyz and the demo page's API — not even base64- or URL-encoded.

/** A secret with characters that URL-encoding and base64 change, so each form differs. */
const secret = (name: string) => `${name}-${randomBytes(18).toString("base64")}+/=`;

/** The forms a leak may take: as is, base64 (both alphabets), URL-encoded, JSON-escaped. */
function forms(value: string): string[] {
  const bytes = Buffer.from(value);
  return [
    value,
    bytes.toString("base64"),
    bytes.toString("base64url"),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ];
}

/** Every file under `dir` (recursively), but those `skip` names. */
function files(dir: string, skip: (file: string) => boolean = () => false): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (skip(file)) return [];
    return statSync(file).isDirectory() ? files(file, skip) : [file];
  });
}

describe("secrets never leave the bridge", () => {
  it("no configured secret in any log line, message, card, file, ops or demo answer — after relays, tasks, failures and refused webhooks", async () => {
    const secrets = {
      FEISHU_APP_SECRET: secret("app"),
      FEISHU_ENCRYPT_KEY: secret("encrypt"),
      FEISHU_VERIFICATION_TOKEN: secret("verify"),
      AI_PC_TOKEN: secret("aipc"),
      OFFICE_MAC_TOKEN: secret("office"),
    };
    const emu = await feishuEmulator({
      apps: [{ appSecret: secrets.FEISHU_APP_SECRET, verificationToken: secrets.FEISHU_VERIFICATION_TOKEN }],
    });
    const wang = emu.addPerson({ name: "小王" });
    emu.addMembers(emu.defaultChat, [wang]);
    const auditChat = emu.createChat({ name: "audit", members: ["bridge", wang] });
    // ai-pc's agent answers, or fails with an error quoting the node's token.
    const aiPcScript = (ctx: ScriptContext): ReplyScript =>
      ctx.message.includes("fail loudly")
        ? { kind: "fail", message: `the upstream refused ${secrets.AI_PC_TOKEN} for this run` }
        : { kind: "text", text: "done", chunks: 1, delayMs: 0 };
    const aiPc = await fakeGateway({ token: secrets.AI_PC_TOKEN, script: aiPcScript });
    // office-mac was given another token than the bridge's: every handshake is refused.
    const office = await fakeGateway({ token: "office-mac-was-rotated-0123456789" });

    const dir = tempDir("clawbridge-secrets-");
    const root = path.join(dir, "shared");
    const stateDir = path.join(dir, "state");
    mkdirSync(path.join(root, "messages"), { recursive: true });
    const configPath = path.join(dir, "clawbridge.json5");
    writeFileSync(
      configPath,
      JSON.stringify({
        feishu: {
          appId: emu.bridge.appId,
          appSecret: "${FEISHU_APP_SECRET}",
          domain: emu.url,
          mode: "webhook",
          encryptKey: "${FEISHU_ENCRYPT_KEY}",
          verificationToken: "${FEISHU_VERIFICATION_TOKEN}",
          chats: [emu.defaultChat, auditChat],
          locale: "en",
        },
        http: { host: "127.0.0.1", port: 0 },
        ops: { host: "127.0.0.1", port: 0 },
        nodes: [
          { name: "ai-pc", url: aiPc.url, token: "${AI_PC_TOKEN}" },
          { name: "office-mac", url: office.url, token: "${OFFICE_MAC_TOKEN}" },
          { name: "nas-agent" },
        ],
        mailbox: { root, watch: "native" },
        relay: { auditChat },
        access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
        state: { dir: stateDir },
        log: { level: "trace" },
      }),
    );
    // The logger production builds (app.ts, bridge-process.ts): the config's secrets registered.
    const loaded = loadConfig({ path: configPath, env: secrets });
    const registry = new SecretRegistry();
    for (const value of loaded.secrets) registry.add(value);
    const sink = logSink();
    const logger = createLogger({
      level: "trace",
      secrets: registry,
      destination: sink.stream,
      pretty: false,
    });
    // The demo page's routes on the bridge's listener, as the sandbox mounts them.
    const web = demoWebRoutes({
      emulator: emu,
      chatId: emu.defaultChat,
      visitor: wang,
      bridgeBot: emu.bridgeBot,
      nodes: [
        { name: "ai-pc", tags: [], kind: "gateway" },
        { name: "office-mac", tags: [], kind: "gateway" },
        { name: "nas-agent", tags: [], kind: "mailbox" },
      ],
      sharedDir: root,
      locale: "en",
    });
    const bridge = await startBridge(loaded, { logger, routes: [web] });
    const answers: string[] = [];
    const collect = async (url: string, init?: RequestInit) => {
      const response = await fetch(url, init);
      const text = await response.text();
      answers.push(`${url} ${response.status} ${JSON.stringify([...response.headers])} ${text}`);
      return { status: response.status, text };
    };
    try {
      emu.useWebhook({
        eventsUrl: `${bridge.url}/feishu/events`,
        cardsUrl: `${bridge.url}/feishu/cards`,
        encryptKey: secrets.FEISHU_ENCRYPT_KEY,
        verificationToken: secrets.FEISHU_VERIFICATION_TOKEN,
      });
      const say = (text: string) => emu.say(emu.defaultChat, wang, text, { mentions: ["bridge"] });
      const task = (id: string) => bridge.tasks.service.get(id);

      // Tasks: one done, one failing with the token in the agent's error.
      await say("/run ai-pc ordinary work").delivered;
      await waitFor(() => task("T1")?.state === "done", { what: "T1 done" });
      await say("/run ai-pc fail loudly").delivered;
      await waitFor(() => task("T2")?.state === "failed", { what: "T2 failed", timeoutMs: 15_000 });
      // Relays: a person's /tell, an agent's line through the shared folder (audited).
      await say("/tell ai-pc hello from the group").delivered;
      appendFileSync(
        path.join(root, "messages", "to-ai-pc.jsonl"),
        `${JSON.stringify({ from: "nas-agent", to: "ai-pc", timestamp: new Date().toISOString(), type: "message", content: "nightly backup done" })}\n`,
      );
      await waitFor(() => aiPc.runs().some((r) => r.message.includes("nightly backup done")), {
        what: "relayed",
      });
      await waitFor(() => emu.messages(auditChat).some((m) => m.text?.includes("nightly backup done")), {
        what: "the audit copy",
      });
      // office-mac's refused handshake is known, and shown by /nodes.
      await waitFor(() => office.received.some((r) => r.frame.method === "connect"), {
        what: "office-mac tried",
      });
      await say("/nodes").delivered;
      await waitFor(
        () => emu.messages(emu.defaultChat).some((m) => JSON.stringify(m.content).includes("office-mac")),
        {
          what: "the /nodes card",
        },
      );
      // Webhooks that must be refused: a forged signature, a wrong token, a stale timestamp.
      const event = JSON.stringify({
        schema: "2.0",
        header: { event_id: "forged", token: "nope" },
        event: {},
      });
      const forged = await collect(`${bridge.url}/feishu/events`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-lark-request-timestamp": String(Math.floor(Date.now() / 1000)),
          "x-lark-request-nonce": "n",
          "x-lark-signature": "0".repeat(64),
        },
        body: event,
      });
      const unsigned = await collect(`${bridge.url}/feishu/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: event,
      });
      expect([forged.status, unsigned.status].every((status) => status >= 400 && status < 500)).toBe(true);

      // What the bridge answers: ops, health, the demo page's API.
      for (const route of ["/metrics", "/healthz", "/readyz"]) await collect(`${bridge.opsUrl}${route}`);
      for (const route of ["/healthz", "/readyz"]) await collect(`${bridge.url}${route}`);
      await collect(`${bridge.url}/demo/api/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "@clawbridge /tasks" }),
      });
      await collect(`${bridge.url}/demo/api/state`);
      await collect(`${bridge.url}/demo/api/messages?limit=200`);
      const listing = await collect(`${bridge.url}/demo/api/files`);
      const shared = (JSON.parse(listing.text) as { files: { path: string }[] }).files;
      for (const file of shared) {
        await collect(`${bridge.url}/demo/api/files/tail?path=${encodeURIComponent(file.path)}&lines=500`);
      }
      expect(shared.length).toBeGreaterThan(0);
    } finally {
      // The state while running (journals not yet compacted), then after a clean stop.
      answers.push(
        ...files(stateDir, (f) => f.endsWith("device.json")).map((f) => `${f}\n${readFileSync(f, "utf8")}`),
      );
      await bridge.stop(5_000);
    }

    const outputs: [string, string][] = [
      ["log", sink.text()],
      ["answers", answers.join("\n")],
      ...emu.messages().map((m): [string, string] => [`message ${m.messageId}`, JSON.stringify(m)]),
      ...files(root).map((f): [string, string] => [f, readFileSync(f, "utf8")]),
      ...files(stateDir, (f) => f.endsWith("device.json")).map((f): [string, string] => [
        f,
        readFileSync(f, "utf8"),
      ]),
    ];
    // The things scanned are really there (not an empty scan passing for a clean one).
    expect(sink.lines.length).toBeGreaterThan(50);
    expect(outputs.some(([, text]) => text.includes("clawbridge_envelopes_total"))).toBe(true);
    expect(emu.messages().some((m) => m.msgType === "interactive")).toBe(true);
    expect(bridge.tasks.service.get("T2")?.reason).toBeTruthy();

    const leaks: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      for (const form of forms(value)) {
        for (const [where, text] of outputs) {
          if (text.includes(form)) leaks.push(`${name} (${form === value ? "as is" : form}) in ${where}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  }, 60_000);

  // Text an agent writes is scrubbed of configured secrets as it arrives (gateway/run.ts and
  // session-observer.ts), so an answer that quotes one reaches no task card, result envelope,
  // tasks.jsonl or outbox with it.
  it("an agent's answer quoting a configured secret is redacted from cards and files", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: { kind: "text", text: `env: TOKEN=${GATEWAY_TOKEN}`, chunks: 1 } } },
    });
    const { bridge } = await startWorldBridge(world);
    world.emu.say(world.emu.defaultChat, world.wang, "/run ai-pc print the environment", {
      mentions: ["bridge"],
    });
    await waitFor(() => bridge.tasks.service.get("T1")?.state === "done", { what: "T1 done" });
    await waitFor(() => existsSync(path.join(world.root, "messages", "to-clawbridge.jsonl")), {
      what: "the result",
    });
    const places = [
      ...world.emu.messages().map((m) => JSON.stringify(m.content)),
      readFileSync(path.join(world.root, "messages", "to-clawbridge.jsonl"), "utf8"),
      readFileSync(path.join(world.stateDir, "tasks.jsonl"), "utf8"),
    ];
    expect(places.filter((text) => text.includes(GATEWAY_TOKEN))).toEqual([]);
  });
});
