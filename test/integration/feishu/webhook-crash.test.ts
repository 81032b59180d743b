import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { IntakeJournal } from "../../../src/feishu/intake-journal.js";
import { BridgeRunner } from "../../helpers/bridge-runner.js";
import { feishuEmulator } from "../../helpers/feishu.js";
import { fakeGateway, GATEWAY_TOKEN } from "../../helpers/gateway.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

// Made-up secret for a loopback test.
const ENCRYPT_KEY = "crash-test-encrypt-key-not-real";
const BURST = 300;

// In webhook mode Feishu gets its 200 before the event is handled and never sends it again:
// the bridge writes each event to its intake journal before that 200. Here the bridge (its
// own process) is killed with SIGKILL right after it acknowledged a burst; after a restart
// every event is handled, exactly once.
describe("webhook intake killed right after acknowledging a burst", () => {
  it("handles every acknowledged event after the restart, exactly once", async () => {
    const emu = await feishuEmulator({ limits: { sendPerChatQps: Infinity, appQps: Infinity } });
    const wang = emu.addPerson({ name: "小王" });
    const gateway = await fakeGateway({ script: { kind: "text", text: "ok", chunks: 1, delayMs: 0 } });
    const dir = tempDir("clawbridge-webhook-crash-");
    const root = path.join(dir, "shared");
    mkdirSync(path.join(root, "messages"), { recursive: true });
    const stateDir = path.join(dir, "state");
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
          chats: [emu.defaultChat],
          locale: "en",
        },
        http: { host: "127.0.0.1", port: 0 },
        ops: { host: "127.0.0.1", port: 0 },
        nodes: [{ name: "ai-pc", url: gateway.url, token: "${AI_PC_TOKEN}" }],
        mailbox: { root, watch: "native" },
        access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
        state: { dir: stateDir },
        log: { level: "info" },
      }),
    );
    const env = {
      FEISHU_APP_SECRET: emu.bridge.appSecret,
      FEISHU_ENCRYPT_KEY: ENCRYPT_KEY,
      FEISHU_VERIFICATION_TOKEN: emu.bridge.verificationToken,
      AI_PC_TOKEN: GATEWAY_TOKEN,
    };
    const logFile = path.join(dir, "bridge.log");
    const runner = new BridgeRunner({ configPath, env }, logFile, ["--relax-outbound"]);
    const pointFeishuAt = (url: string) =>
      emu.useWebhook({
        eventsUrl: `${url}/feishu/events`,
        cardsUrl: `${url}/feishu/cards`,
        encryptKey: ENCRYPT_KEY,
        verificationToken: emu.bridge.verificationToken,
      });

    await runner.start();
    pointFeishuAt(runner.url!);
    const said = Array.from({ length: BURST }, (_, i) =>
      emu.say(emu.defaultChat, wang, `/tell ai-pc burst ${i}`, { mentions: ["bridge"] }),
    );
    const acks = await Promise.all(said.map((s) => s.delivered));
    // Every event was acknowledged: Feishu would never send any of them again.
    expect(acks.every((ack) => ack.via === "webhook" && ack.status === 200)).toBe(true);
    const killed = await runner.kill();
    expect(killed.signal).toBe("SIGKILL");
    const runsBeforeRestart = gateway.runs().length;

    await runner.start();
    pointFeishuAt(runner.url!);
    await waitFor(() => gateway.runs().filter((r) => r.status === "ok").length >= BURST, {
      timeoutMs: 60_000,
      what: "every acknowledged event handled after the restart",
    });
    // Feishu's own retry of an event the bridge had (a lost 200) is still recognised.
    await emu.redeliver(said[0]!.eventId).delivered;
    const answers = () => emu.messages(emu.defaultChat).filter((m) => m.text?.startsWith("[ai-pc]"));
    await waitFor(() => answers().length >= BURST, { what: "every answer in the group", timeoutMs: 30_000 });
    await runner.stop();
    // Nothing is left waiting in the intake journal.
    const journal = new IntakeJournal(stateDir);
    expect(await journal.load()).toEqual([]);
    await journal.close();

    const runs = gateway.runs().filter((r) => r.origin === "agent");
    const byMarker = new Map<string, number>();
    for (const run of runs) {
      const marker = /burst \d+/.exec(run.message)?.[0] ?? "?";
      byMarker.set(marker, (byMarker.get(marker) ?? 0) + 1);
    }
    expect(byMarker.size).toBe(BURST);
    expect([...byMarker.values()].every((n) => n === 1)).toBe(true);
    // Each message's answer is in the group once.
    expect(answers()).toHaveLength(BURST);

    const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    const replayed = /"events":(\d+),"msg":"handling webhook events received before the last stop"/.exec(log);
    console.log(
      JSON.stringify({
        burst: BURST,
        runsBeforeKill: runsBeforeRestart,
        replayedAfterRestart: replayed ? Number(replayed[1]) : 0,
      }),
    );
  }, 120_000);
});
