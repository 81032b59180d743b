import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDemo, type RunningDemo } from "../../../src/demo/index.js";
import type { EmulatedMessage, Emitted } from "../../../src/sim/feishu/index.js";
import { cardText, cardTitle } from "../../helpers/card-reading.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

const running: RunningDemo[] = [];
afterEach(async () => {
  for (const demo of running.splice(0)) await demo.stop();
});

async function demo(options: { stateDir?: string; sharedDir?: string; locale?: "en" | "zh-CN" } = {}) {
  const started = await startDemo({
    port: 0,
    stateDir: path.join(tempDir("clawbridge-demo-"), "state"),
    ...options,
  });
  running.push(started);
  return started;
}

/** The visitor types `@clawbridge <text>` in the group. */
function command(d: RunningDemo, text: string): Emitted {
  return d.world.emulator.say(d.world.chatId, d.world.visitor, text, { mentions: ["bridge"] });
}

function cardFor(d: RunningDemo, said: Emitted): EmulatedMessage | undefined {
  return d.world.emulator
    .messages(d.world.chatId)
    .find((m) => m.parentId === said.messageId && m.msgType === "interactive");
}

function groupTexts(d: RunningDemo): string[] {
  return d.world.emulator.messages(d.world.chatId).flatMap((m) => (m.text === undefined ? [] : [m.text]));
}

function lines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Listening sockets and open connections of this process, by kind. */
function sockets(): number {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === "TCPServerWrap" || kind === "TCPSocketWrap").length;
}

describe("the demo sandbox (startDemo)", () => {
  it("serves the page; the visitor's @clawbridge /run #gpu 画一只猫 reaches done on ai-pc, the fast node", async () => {
    const d = await demo({ locale: "en" });
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/demo\/$/);
    const page = await fetch(d.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(d.world.nodes.map((n) => [n.name, n.kind, n.tags])).toEqual([
      ["ai-pc", "gateway", ["gpu"]],
      ["office-mac", "gateway", ["office"]],
      ["nas-agent", "mailbox", ["storage"]],
    ]);

    const said = command(d, "/run #gpu 画一只猫");
    const card = await waitFor(
      () => {
        const now = cardFor(d, said);
        return now && cardTitle(now).includes("· done") ? now : undefined;
      },
      { what: () => `the done card (now: ${cardTitle(cardFor(d, said))})`, timeoutMs: 10_000 },
    );
    expect(cardTitle(card)).toMatch(/^Task T1 · ai-pc · done/);
    expect(cardText(card.content)).toContain("( o.o )");
  });

  it("node → node: office-mac, @mentioned by the visitor, asks ai-pc in the group; the bridge relays it, audited, and posts the answer", async () => {
    const d = await demo({ locale: "en" });
    const officeBot = d.world.nodes.find((n) => n.name === "office-mac")!.bot!;
    const aiPcBot = d.world.nodes.find((n) => n.name === "ai-pc")!.bot!;
    const asked = d.world.emulator.say(d.world.chatId, d.world.visitor, "ask AI PC if the GPU is busy", {
      mentions: [officeBot],
    });
    // office-mac's own bot speaks (its channel heard the mention), addressing ai-pc's bot…
    const spoken = await waitFor(
      () => d.world.emulator.messages(d.world.chatId).find((m) => m.senderAppId === officeBot.appId),
      { what: "office-mac's bot in the group" },
    );
    expect(spoken.parentId).toBe(asked.messageId);
    expect(spoken.mentions).toEqual([aiPcBot.unionId]);
    // …which Feishu never shows ai-pc: the bridge relays it, with the audit line, and ai-pc answers.
    await waitFor(() => groupTexts(d).some((t) => t.startsWith("[office-mac → ai-pc]")), {
      what: "the [office-mac → ai-pc] audit line",
    });
    const answer = await waitFor(() => groupTexts(d).find((t) => t.startsWith("[ai-pc]")), {
      what: "ai-pc's answer posted as [ai-pc]",
    });
    expect(answer).toContain("GPU at 12%");
  });

  it("the mailbox-only nas-agent answers /run nas-agent through the shared folder (the simulated agent)", async () => {
    const d = await demo({ locale: "zh-CN" });
    const said = command(d, "/run nas-agent 把照片备份一下");
    const card = await waitFor(
      () => {
        const now = cardFor(d, said);
        return now && cardTitle(now).includes("nas-agent") && /完成/.test(cardTitle(now)) ? now : undefined;
      },
      { what: () => `nas-agent's done card (now: ${cardTitle(cardFor(d, said))})` },
    );
    expect(cardText(card.content)).toContain("nas-agent 已归档「把照片备份一下」");
    const messages = path.join(d.world.sharedDir, "messages");
    const task = lines(path.join(messages, "to-nas-agent.jsonl")).find((e) => e.type === "task");
    const visitor = `user:${d.world.visitor.openIdFor(d.world.bridgeBot.appId)}`;
    expect(task).toMatchObject({ from: visitor, to: "nas-agent", content: "把照片备份一下" });
    expect(lines(path.join(messages, "to-clawbridge.jsonl"))).toContainEqual(
      expect.objectContaining({ from: "nas-agent", type: "result", taskId: task!.taskId, replyTo: task!.id }),
    );
  });

  it("runs the bridge from a config file in the production schema, with no secret in it", async () => {
    const d = await demo();
    const text = readFileSync(d.configPath, "utf8");
    expect(text).toContain('"appSecret": "${FEISHU_APP_SECRET}"');
    expect(text).toContain('"token": "${AI_PC_TOKEN}"');
    expect(text).not.toContain(d.world.emulator.bridge.appSecret);
    const config = JSON.parse(text.replace(/^\/\/.*\n/gm, "")) as {
      access: { dispatchers: string[] };
      relay: { mirrorToChat: boolean; auditChat: string };
      feishu: { domain: string; chats: string[] };
    };
    expect(config.access.dispatchers).toEqual([d.world.visitor.openIdFor(d.world.bridgeBot.appId)]);
    expect(config.relay).toMatchObject({ mirrorToChat: true, auditChat: d.world.chatId });
    expect(config.feishu).toMatchObject({ domain: d.world.emulator.url, chats: [d.world.chatId] });
  });

  it("stop() leaves nothing listening and frees its folder; a second sandbox on a running one's folder is refused", async () => {
    const before = sockets();
    const stateDir = path.join(tempDir("clawbridge-demo-"), "state");
    const first = await startDemo({ port: 0, stateDir });
    const second = startDemo({ port: 0, stateDir });
    await expect(second).rejects.toMatchObject({ code: "CB_STATE_LOCKED" });
    const urls = [first.url, first.world.emulator.url];
    await first.stop();
    for (const url of urls) await expect(fetch(url)).rejects.toThrow();
    await waitFor(() => sockets() <= before, { what: () => `sockets back to ${before} (now ${sockets()})` });
    // The folder is free again, and emptied at the next start.
    writeFileSync(path.join(stateDir, "shared", "messages", "to-old.jsonl"), "{}\n");
    const again = await demo({ stateDir });
    expect(existsSync(path.join(again.world.sharedDir, "messages", "to-old.jsonl"))).toBe(false);
  });

  it("never empties a folder it did not make, nor a shared folder given to it", async () => {
    const foreign = tempDir("clawbridge-demo-");
    writeFileSync(path.join(foreign, "device.json"), "{}");
    await expect(startDemo({ port: 0, stateDir: foreign })).rejects.toMatchObject({ code: "CB_USAGE" });
    expect(existsSync(path.join(foreign, "device.json"))).toBe(true);

    const shared = tempDir("clawbridge-shared-");
    mkdirSync(path.join(shared, "messages"));
    writeFileSync(path.join(shared, "messages", "to-keep.jsonl"), "{}\n");
    const d = await demo({ sharedDir: shared });
    expect(d.world.sharedDir).toBe(shared);
    expect(existsSync(path.join(shared, "messages", "to-keep.jsonl"))).toBe(true);
  });
});
