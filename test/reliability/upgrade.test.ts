import { appendFileSync, chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import type { DoctorJsonCheck } from "../../src/cli/doctor/index.js";
import {
  isClawbridgeError,
  readJournalFile,
  systemClock,
  type ClawbridgeError,
  type Clock,
} from "../../src/core/index.js";
import { FileQuarantine } from "../../src/mailbox/index.js";
import { readDeadLetters } from "../../src/relay/index.js";
import { readTasks } from "../../src/tasks/index.js";
import { feishuEmulator, testLogger } from "../helpers/feishu.js";
import { fakeGateway } from "../helpers/gateway.js";
import { runCli } from "../helpers/spawn.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "state-0.1.0");

interface Manifest {
  madeAt: string;
  appId: string;
  chats: { group: string; audit: string };
  dispatcher: string;
  tasks: Record<string, { state: string; node?: string; card?: string; envelopeId: string }>;
  pendingIntakeEvent: { eventId: string; messageId: string };
  deadLetters: { id: string; target: string }[];
  officeMacPending: string[];
  aiPcRuns: { idempotencyKey: string; status: string }[];
}

const manifest = JSON.parse(readFileSync(path.join(FIXTURE, "manifest.json"), "utf8")) as Manifest;
const TOKEN = "upgrade-test-gateway-token-0123";

/** Requests of one method a fake gateway received, with their params. */
function requests(
  gateway: { received: readonly { frame: { method?: string; params?: unknown } }[] },
  method: string,
) {
  return gateway.received
    .filter((r) => r.frame.method === method)
    .map((r) => (r.frame.params ?? {}) as Record<string, unknown>);
}

/** How often each idempotency key was asked for with `agent`. */
function agentKeys(gateway: Parameters<typeof requests>[0]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const params of requests(gateway, "agent")) {
    const key = String(params.idempotencyKey);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The fixture's two folders copied to a temp dir, with the modes the bridge gave them (git keeps none). */
function copyFixture() {
  const dir = tempDir("clawbridge-upgrade-");
  const stateDir = path.join(dir, "state");
  const root = path.join(dir, "shared");
  cpSync(path.join(FIXTURE, "state"), stateDir, { recursive: true });
  cpSync(path.join(FIXTURE, "shared"), root, { recursive: true });
  chmodSync(stateDir, 0o700);
  chmodSync(path.join(stateDir, "identity", "device.json"), 0o600);
  return { dir, stateDir, root };
}

/**
 * The world the fixture's state belongs to, now: the same Feishu app (the emulator is a new
 * tenant: the old run's messages are gone), ai-pc's OpenClaw restarted meanwhile (it no
 * longer knows T2's run), office-mac still wants pairing and has approved the device of
 * 0.1.0's key — only that key gets in. Writes the config; secrets by environment.
 */
async function fixtureWorld(folders: ReturnType<typeof copyFixture>) {
  const { dir, stateDir, root } = folders;
  const identity = JSON.parse(readFileSync(path.join(stateDir, "identity", "device.json"), "utf8")) as {
    deviceId: string;
  };
  const emu = await feishuEmulator({ apps: [{ appId: manifest.appId }] });
  const wang = emu.addPerson({ name: "小王" });
  emu.addMembers(emu.defaultChat, [wang]);
  const aiPc = await fakeGateway({
    token: TOKEN,
    script: { kind: "text", text: "ok", chunks: 1, delayMs: 0 },
  });
  const office = await fakeGateway({ token: TOKEN, requirePairing: true });
  office.approveDevice(identity.deviceId);
  const configPath = path.join(dir, "clawbridge.json5");
  writeFileSync(
    configPath,
    JSON.stringify({
      feishu: {
        appId: manifest.appId,
        appSecret: "${FEISHU_APP_SECRET}",
        domain: emu.url,
        mode: "webhook",
        encryptKey: "${FEISHU_ENCRYPT_KEY}",
        verificationToken: "${FEISHU_VERIFICATION_TOKEN}",
        chats: [manifest.chats.group, manifest.chats.audit, emu.defaultChat],
        locale: "en",
      },
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [
        { name: "ai-pc", url: aiPc.url, token: "${GATEWAY_TOKEN}", maxConcurrent: 1 },
        { name: "office-mac", url: office.url, token: "${GATEWAY_TOKEN}" },
        { name: "nas-agent" },
      ],
      mailbox: { root, watch: "native" },
      relay: { auditChat: manifest.chats.audit },
      access: { dispatchers: [manifest.dispatcher, wang.openIdFor(emu.bridge.appId)] },
      state: { dir: stateDir },
      log: { level: "debug" },
    }),
  );
  const env = {
    FEISHU_APP_SECRET: emu.bridge.appSecret,
    FEISHU_ENCRYPT_KEY: "upgrade-test-encrypt-key",
    FEISHU_VERIFICATION_TOKEN: emu.bridge.verificationToken,
    GATEWAY_TOKEN: TOKEN,
  };
  return { emu, wang, aiPc, office, identity, configPath, env };
}

describe("upgrade: a state folder written by clawbridge 0.1.0", () => {
  it("is honoured by this release: waiting work delivered once, dead letters kept, tasks and their cards restored, nothing read twice", async () => {
    const { stateDir, root, ...folders } = copyFixture();
    const stateBefore = Object.fromEntries(
      ["tasks.jsonl", "outbox/office-mac.jsonl", "dead-letters.jsonl", "feishu/intake.jsonl"].map((f) => [
        f,
        readFileSync(path.join(stateDir, f), "utf8"),
      ]),
    );
    const { emu, wang, aiPc, office, identity, configPath, env } = await fixtureWorld({
      stateDir,
      root,
      ...folders,
    });
    const { logger, sink } = testLogger([emu.bridge.appSecret, TOKEN]);
    // The bridge starts a minute after 0.1.0 stopped, as an upgrade does: the fixture's running
    // tasks have not reached their deadline, nas-agent's status file is fresh.
    const shift = Date.now() - (Date.parse(manifest.madeAt) + 60_000);
    const clock: Clock = { ...systemClock, now: () => Date.now() - shift };
    const bridge = await startBridge(loadConfig({ path: configPath, env }), { logger, clock });
    try {
      emu.useWebhook({
        eventsUrl: `${bridge.url}/feishu/events`,
        cardsUrl: `${bridge.url}/feishu/cards`,
        encryptKey: env.FEISHU_ENCRYPT_KEY,
        verificationToken: env.FEISHU_VERIFICATION_TOKEN,
      });

      // Same formats: nothing is migrated, and the files keep their headers.
      expect(sink.text()).not.toContain("migrated");
      for (const file of [
        "tasks.jsonl",
        "outbox/office-mac.jsonl",
        "dead-letters.jsonl",
        "quarantine.jsonl",
      ]) {
        expect((await readJournalFile(path.join(stateDir, file))).header?.version).toBe(1);
      }

      // The work waiting for office-mac is delivered once its gateway lets the same device in.
      await waitFor(() => manifest.officeMacPending.every((id) => agentKeys(office).has(id)), {
        what: "every envelope waiting for office-mac delivered",
        timeoutMs: 20_000,
      });
      for (const id of manifest.officeMacPending) expect(agentKeys(office).get(id)).toBe(1);
      expect(office.clients().find((c) => c.authenticated)?.deviceId).toBe(identity.deviceId);
      expect(office.pendingPairings()).toEqual([]);

      // The webhook event 0.1.0 acknowledged but had not handled is handed over now, once. (Its
      // @mention names the bot as the old run's Feishu tenant saw it; this emulator is a new
      // tenant whose bot has another open_id, so the command is read as not addressed to it.)
      const late = manifest.pendingIntakeEvent;
      const seen = () =>
        sink.records().filter((r) => r.messageId === late.messageId && r.component === "commands");
      await waitFor(() => seen().length > 0, { what: "the journaled event handed to the commands" });
      expect(sink.text()).toMatch(/"events":1,"msg":"handling webhook events received before the last stop"/);
      // Tasks: T1 stays done; T2's run is gone (a fresh gateway) so it fails with the reason;
      // T3, queued behind it, then runs; T4 finishes when nas-agent answers.
      const t = manifest.tasks;
      expect(bridge.tasks.service.get("T1")?.state).toBe("done");
      await waitFor(() => bridge.tasks.service.get("T2")?.state === "failed", { what: "T2 failed" });
      expect(bridge.tasks.service.get("T2")?.reason).toContain("no longer knows run");
      expect(requests(aiPc, "agent.wait").some((p) => p.runId === t.T2!.envelopeId)).toBe(true);
      await waitFor(() => bridge.tasks.service.get("T3")?.state === "done", { what: "T3 run and done" });
      expect(agentKeys(aiPc).get(t.T3!.envelopeId)).toBe(1);
      appendFileSync(
        path.join(root, "messages", "to-clawbridge.jsonl"),
        `${JSON.stringify({
          from: "nas-agent",
          to: "clawbridge",
          timestamp: new Date().toISOString(),
          type: "result",
          content: "logs summarised",
          taskId: "T4",
          replyTo: t.T4!.envelopeId,
        })}\n`,
      );
      await waitFor(() => bridge.tasks.service.get("T4")?.state === "done", { what: "T4 done by nas-agent" });
      // Each kept its card: the bridge patches the message it posted then, never a second card.
      for (const id of ["T1", "T2", "T3", "T4"]) {
        expect(bridge.tasks.service.get(id)?.place?.cardMessageId).toBe(t[id]!.card);
      }
      for (const id of ["T2", "T3", "T4"]) {
        await waitFor(
          () => emu.callsTo(`/open-apis/im/v1/messages/${t[id]!.card}`).some((c) => c.method === "PATCH"),
          {
            what: `${id}'s card patched`,
          },
        );
      }
      expect(
        emu
          .messages()
          .filter((m) => m.msgType === "interactive" && /Task T[1-4]\b/.test(JSON.stringify(m.content))),
      ).toEqual([]);
      // The id counter goes on: the next task is T5.
      const said = emu.say(emu.defaultChat, wang, "/run ai-pc after the upgrade", { mentions: ["bridge"] });
      await said.delivered;
      await waitFor(() => bridge.tasks.service.get("T5")?.state === "done", { what: "T5 done" });
      expect(bridge.tasks.service.get("T5")?.prompt).toBe("after the upgrade");

      // The office-mac pairing card is patched to "connected"; the watch card is followed on.
      const pairing = /"op":"pairing","card":\{"node":"office-mac".*?"messageId":"(om_[0-9a-f]+)"/.exec(
        stateBefore["tasks.jsonl"]!,
      )![1]!;
      await waitFor(
        () => emu.callsTo(`/open-apis/im/v1/messages/${pairing}`).some((c) => c.method === "PATCH"),
        {
          what: "the pairing card patched",
        },
      );
      const watchCard = /"op":"watch","watch":\{[^}]*"messageId":"(om_[0-9a-f]+)"/.exec(
        stateBefore["tasks.jsonl"]!,
      )![1]!;
      await waitFor(
        () => emu.callsTo(`/open-apis/im/v1/messages/${watchCard}`).some((c) => c.method === "PATCH"),
        {
          what: "the watch card patched",
        },
      );

      // The dead letter is still listed and not tried again.
      expect(bridge.relay.deadLetterList().map((l) => l.id)).toEqual(
        expect.arrayContaining(manifest.deadLetters.map((l) => l.id)),
      );
      expect((await readDeadLetters(stateDir)).map((l) => l.id)).toEqual(
        expect.arrayContaining([manifest.deadLetters[0]!.id]),
      );
      for (const { id } of manifest.deadLetters) {
        expect([...agentKeys(aiPc).keys()].some((key) => key.startsWith(id))).toBe(false);
      }

      // No inbox line is read again: nothing 0.1.0 delivered reaches ai-pc twice, the bad line is
      // not quarantined twice, T1's result line does not finish T1 again.
      for (const run of manifest.aiPcRuns) expect(agentKeys(aiPc).has(run.idempotencyKey)).toBe(false);
      expect(aiPc.runs().some((r) => r.message.includes("the report is ready"))).toBe(false);
      expect(await FileQuarantine.count(stateDir)).toBe(1);
      expect((await readTasks(stateDir)).find((task) => task.id === "T1")?.endedAt).toBe(
        JSON.parse(
          stateBefore["tasks.jsonl"]!.split("\n")
            .filter((l) => l.includes('"id":"T1"') && l.includes('"state":"done"'))
            .at(-1)!,
        ).task.endedAt,
      );
      // …and a new line is.
      appendFileSync(
        path.join(root, "messages", "to-ai-pc.jsonl"),
        `${JSON.stringify({ from: "office-mac", to: "ai-pc", timestamp: new Date().toISOString(), type: "message", content: "new after the upgrade" })}\n`,
      );
      await waitFor(() => aiPc.runs().some((r) => r.message.includes("new after the upgrade")), {
        what: "a new inbox line delivered",
      });
      expect(aiPc.runs().filter((r) => r.message.includes("new after the upgrade"))).toHaveLength(1);
      expect(seen()).toHaveLength(1);
    } finally {
      await bridge.stop(5_000);
    }
    // Handled: a clean stop leaves nothing for the next start.
    expect((await readJournalFile(path.join(stateDir, "feishu", "intake.jsonl"))).lines).toEqual([]);
  }, 60_000);
});

/** Gives a journal's header a format version this release does not know. */
function fromNewerRelease(file: string, version = 2): void {
  const [header = "", ...rest] = readFileSync(file, "utf8").split("\n");
  const parsed = JSON.parse(header) as { version: number };
  writeFileSync(file, [JSON.stringify({ ...parsed, version }), ...rest].join("\n"));
}

describe("a state folder from a newer release", () => {
  // Every versioned state file; the first five are forgotten by `state reset`, the rest kept.
  const resettable = [
    "outbox/office-mac.jsonl",
    "mailbox/outbox-ledger.jsonl",
    "mailbox/delivered/to-ai-pc.jsonl.log",
    "feishu/events.log",
    "feishu/intake.jsonl",
  ];
  const kept = ["tasks.jsonl", "dead-letters.jsonl", "quarantine.jsonl", "identity/device.json"];

  it("is refused at start — the file, the found and the supported version, the way out — and left as it is", async () => {
    for (const name of [...resettable, ...kept]) {
      const folders = copyFixture();
      const file = path.join(folders.stateDir, name);
      if (name.endsWith("device.json")) {
        const device = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
        writeFileSync(file, JSON.stringify({ ...device, version: 2 }));
      } else if (name.includes("delivered")) {
        // 0.1.0 kept no delivered log (the relay's ledger replaced it); a newer one might. Its
        // folder was empty, which git does not keep.
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, `${JSON.stringify({ journal: "delivered", version: 2 })}\nsome-id 42\n`);
      } else {
        fromNewerRelease(file);
      }
      const before = readFileSync(file);
      const world = await fixtureWorld(folders);
      const { logger } = testLogger();
      const error = await startBridge(loadConfig({ path: world.configPath, env: world.env }), {
        logger,
      }).then(
        async (bridge) => {
          await bridge.stop(5_000);
          return undefined;
        },
        (thrown: unknown) => thrown,
      );
      expect(isClawbridgeError(error, "CB_STATE_NEWER"), `${name}: ${String(error)}`).toBe(true);
      const refusal = error as ClawbridgeError<"CB_STATE_NEWER">;
      expect(refusal.details).toMatchObject({ file, found: 2, supported: 1 });
      const en = refusal.render("en");
      expect(en.message).toBe(
        `${file} was written by a newer clawbridge: its state format is version 2, this release reads up to version 1`,
      );
      expect(en.fix).toMatch(/^run the newer clawbridge release, or /);
      if (resettable.includes(name)) expect(en.fix).toContain("`clawbridge state reset` to start");
      else expect(en.fix).toContain(`restore ${file} from a backup`);
      const zh = refusal.render("zh-CN");
      expect(zh.message).toContain(`${file} 由更新版本的 clawbridge 写入`);
      expect(zh.fix).toContain("请运行那个更新版本的 clawbridge");
      // Refused before anything was read into memory or written back.
      expect(readFileSync(file).equals(before), name).toBe(true);
    }
  }, 60_000);

  it("`clawbridge start` exits 1 with the message and the fix; `clawbridge doctor` reports it", async () => {
    const folders = copyFixture();
    const tasksFile = path.join(folders.stateDir, "tasks.jsonl");
    const outboxFile = path.join(folders.stateDir, "outbox", "office-mac.jsonl");
    fromNewerRelease(tasksFile);
    fromNewerRelease(outboxFile, 3);
    const world = await fixtureWorld(folders);
    const env = { ...world.env, LANG: "en_US.UTF-8" };

    const start = await runCli(["start", "--config", world.configPath], { env });
    expect(start.code, start.stderr).toBe(1);
    const said = start.stderr.split("\n").filter((line) => !line.startsWith("{"));
    expect(said).toContainEqual(
      expect.stringMatching(
        /newer clawbridge: its state format is version \d, this release reads up to version 1$/,
      ),
    );
    expect(said.join("\n")).toMatch(/fix: run the newer clawbridge release, or /);
    expect(readFileSync(tasksFile, "utf8").split("\n")[0]).toBe('{"journal":"tasks","version":2}');

    const doctor = await runCli(["doctor", "--config", world.configPath, "--json"], { env });
    expect(doctor.code).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: DoctorJsonCheck[] }).checks;
    const formats = checks.find((c) => c.id === "state.formats");
    expect(formats).toMatchObject({ ok: false, level: "fail" });
    // Both files are found; the first (in path order) is named, the other counted.
    expect(formats!.detail).toBe(
      `${outboxFile} was written by a newer clawbridge: its state format is version 3, this release reads up to version 1 (and 1 more files)`,
    );
    expect(formats!.fix).toContain("`clawbridge state reset`");
  }, 60_000);
});
