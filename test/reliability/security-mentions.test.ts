import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mentionedOpenIds } from "../../src/sim/feishu/content.js";
import type { EmulatedMessage } from "../../src/sim/feishu/index.js";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { cardText } from "../helpers/card-reading.js";
import { waitFor } from "../helpers/wait.js";

// What an agent says (a gateway's answer, a mailbox line) is someone else's text: posted by
// the bridge, it must not mention everyone, pass for one of the bridge's own audit lines, or
// become a card. Each forgery below is sent through every route that posts agent text.

const NODES = ["ai-pc", "office-mac", "nas-agent", "clawbridge"];
const EVIL = [
  "hello",
  '<at user_id="all">所有人</at> <at id=all></at> <AT user_id="all"></AT> <at user_id=\'all\'>x</at>',
  "@所有人 @all @_all",
  "[nas-agent → office-mac] forged audit line",
  '{"config":{"wide_screen_mode":true},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"**forged card**"}}]}',
].join("\n");

/** An audit line's shape, `[a → b] …`, for any node pair. */
const AUDIT_LINE = new RegExp(`^\\[(${NODES.join("|")}) → (${NODES.join("|")})\\]`);

function textOf(message: EmulatedMessage): string {
  return message.msgType === "text" ? (message.text ?? "") : cardText(message.content);
}

/**
 * Sends EVIL through every route that posts agent text: gateway answers to a person's /tell
 * (its thread), to a task (card and final message) and to an agent's mailbox line (the audit
 * chat); a mailbox line to a mailbox-only node (audited) and that node's answer to a person's
 * /tell (its thread). Resolves with the bridge's messages once each has posted it.
 */
async function postEverywhere() {
  const world = await bridgeWorld({
    gateways: { "ai-pc": { script: { kind: "text", text: EVIL, chunks: 2, delayMs: 1 } } },
  });
  const { bridge } = await startWorldBridge(world);
  const say = (text: string) =>
    world.emu.say(world.emu.defaultChat, world.wang, text, { mentions: ["bridge"] }).delivered;
  const append = (node: string, envelope: Record<string, unknown>) =>
    appendFileSync(
      path.join(world.root, "messages", `to-${node}.jsonl`),
      `${JSON.stringify({ timestamp: new Date().toISOString(), type: "message", ...envelope })}\n`,
    );
  await say("/tell ai-pc say something");
  await say("/run ai-pc say something else");
  append("ai-pc", { from: "office-mac", to: "ai-pc", content: "question" });
  append("nas-agent", { from: "office-mac", to: "nas-agent", content: EVIL });
  await say("/tell nas-agent what is stored?");
  const asked = await waitFor(
    () =>
      readInbox(world.root, "nas-agent")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: string; content: string })
        .find((e) => e.content === "what is stored?"),
    { what: "the /tell in nas-agent's inbox" },
  );
  append("clawbridge", { from: "nas-agent", to: "clawbridge", content: EVIL, replyTo: asked.id });

  const bot = () => world.emu.messages().filter((m) => m.senderAppId === world.emu.bridge.appId);
  const posted = () => bot().filter((m) => textOf(m).includes("forged audit line"));
  await waitFor(() => bridge.tasks.service.get("T1")?.state === "done", { what: "T1 done" });
  await waitFor(() => posted().filter((m) => m.msgType === "text").length >= 5, {
    what: () =>
      `every route posted it (so far: ${bot()
        .map((m) => textOf(m).slice(0, 40))
        .join(" | ")})`,
    timeoutMs: 20_000,
  });
  return { world, posted: posted() };
}

describe("agent text cannot mention everyone or become a card", () => {
  it("a gateway's answer and mailbox lines quoting @all mentions and card JSON are posted inert, as text", async () => {
    const { world, posted } = await postEverywhere();
    const wang = world.wang.openIdFor(world.emu.bridge.appId);
    for (const message of posted) {
      // Agent text goes out as `text`; the one card is the bridge's own task card.
      expect(["text", "interactive"]).toContain(message.msgType);
      // Nobody but the task's requester is mentioned — never everyone.
      expect(mentionedOpenIds(message.msgType, message.content).filter((id) => id !== wang)).toEqual([]);
      // What Feishu reads as markup: the whole text, or a card's markdown parts (its
      // `plain_text` parts, where the agent's output is, are never read as markup).
      const markup = message.msgType === "text" ? [message.text ?? ""] : markdownParts(message.content);
      for (const part of markup) {
        expect(part.replaceAll(`<at id=${wang}></at>`, ""), part).not.toMatch(/<\s*at\b/i);
        expect(part).not.toMatch(/@(所有人|all\b)/i);
      }
      if (message.msgType === "text") expect(message.text).toContain('"elements"');
    }
    expect(posted.filter((m) => m.msgType === "interactive")).toHaveLength(1);
    // What people read keeps the words.
    expect(textOf(posted[0]!).replace(/\u200b/g, "")).toContain("@所有人 @all @_all");
  }, 40_000);

  // An answer is posted as "[node] <text>" with the text's line breaks kept; a line in it that
  // starts like one of the bridge's labels ("[a → b] …", "[node] …") is marked as quoted ("› "),
  // so an agent cannot make a line of its answer pass for an audit line (core/inert-mentions.ts).
  // A task card shows the output inside its own block, which cannot pass for a message.
  it("an agent cannot forge an audit line inside its answer", async () => {
    const { posted } = await postEverywhere();
    const texts = posted.filter((m) => m.msgType !== "interactive");
    expect(texts.length).toBeGreaterThan(0);
    for (const message of texts) {
      const [, ...rest] = textOf(message).split("\n");
      expect(
        rest.filter((l) => AUDIT_LINE.test(l.trim())),
        textOf(message),
      ).toEqual([]);
    }
  }, 40_000);
});

/** The text of a card's `markdown` and `lark_md` parts, where Feishu reads `<at>` and the like. */
function markdownParts(card: unknown): string[] {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    const node = value as Record<string, unknown>;
    if ((node.tag === "markdown" || node.tag === "lark_md") && typeof node.content === "string") {
      parts.push(node.content);
    }
    Object.values(node).forEach(walk);
  };
  walk(card);
  return parts;
}

function readInbox(root: string, node: string): string {
  return readFileSync(path.join(root, "messages", `to-${node}.jsonl`), "utf8");
}
