import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isoWithOffset } from "../../../src/core/index.js";
import { parseEnvelopeLine } from "../../../src/mailbox/index.js";
import type { DeliveryResult, FeishuEmulator, Person } from "../../../src/sim/feishu/index.js";
import { waitFor } from "../../helpers/wait.js";

// What the fault tests share: reading the shared folder's inboxes by envelope id, saying
// things in the group the way Feishu delivers them (again until acknowledged), and reading
// the bridge's log and notices.

/** One inbox as envelope ids (in file order) and the lines that are not envelopes. */
export function inboxIds(root: string, node: string): { ids: string[]; bad: string[] } {
  const file = `to-${node}.jsonl`;
  const full = path.join(root, "messages", file);
  if (!existsSync(full)) return { ids: [], bad: [] };
  const text = readFileSync(full, "utf8");
  const ids: string[] = [];
  const bad: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const parsed = parseEnvelopeLine(line, file);
    if (parsed.kind === "envelope") ids.push(parsed.envelope.id);
    else bad.push(line.slice(0, 120));
  }
  if (text !== "" && !text.endsWith("\n")) bad.push("(no newline at the end)");
  return { ids, bad };
}

/**
 * What is wrong with the inboxes against what should be in them, per inbox: ids missing,
 * ids written more than once, lines that are not envelopes. Empty when all is well.
 */
export function inboxProblems(root: string, expected: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const problems: string[] = [];
  for (const [node, want] of expected) {
    const { ids, bad } = inboxIds(root, node);
    const counts = countBy(ids);
    const missing = [...want].filter((id) => !counts.has(id));
    const twice = [...counts].filter(([id, n]) => want.has(id) && n > 1).map(([id, n]) => `${id} ×${n}`);
    if (missing.length > 0) problems.push(`to-${node}.jsonl misses ${missing.join(", ")}`);
    if (twice.length > 0) problems.push(`to-${node}.jsonl repeats ${twice.join(", ")}`);
    if (bad.length > 0) problems.push(`to-${node}.jsonl has bad lines: ${bad.join(" | ")}`);
  }
  return problems;
}

/** Expected inbox contents, built up as traffic is sent: node → ids. */
export class ExpectedInboxes extends Map<string, Set<string>> {
  add(node: string, id: string): void {
    const ids = this.get(node) ?? new Set<string>();
    ids.add(id);
    this.set(node, ids);
  }
}

export function countBy<T>(items: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** A seed agent's line (the five fields, one write) and the id the bridge derives for it. */
export function seedLine(from: string, to: string, content: string): { line: string; id: string } {
  const line = `${JSON.stringify({ from, to, timestamp: isoWithOffset(Date.now()), type: "message", content })}\n`;
  const parsed = parseEnvelopeLine(line, `to-${to}.jsonl`);
  if (parsed.kind !== "envelope") throw new Error(`a seed line did not parse: ${line}`);
  return { line, id: parsed.envelope.id };
}

/**
 * People talking in the group as Feishu delivers it: an event the bridge does not
 * acknowledge (code 200 on the long connection) is delivered again under the same event id,
 * a little later (Feishu waits longer; a test cannot). Bounded per event.
 */
export class GroupTalk {
  private unacked = 0;
  private stopped = false;
  redeliveries = 0;

  constructor(
    private readonly emu: FeishuEmulator,
    private readonly retryMs = 300,
    private readonly maxTries = 200,
  ) {}

  say(chatId: string, person: Person, text: string): { messageId: string; eventId: string } {
    const said = this.emu.say(chatId, person, text, { mentions: ["bridge"] });
    this.track(said.eventId, said.delivered, 1);
    return { messageId: said.messageId, eventId: said.eventId };
  }

  /** Every event acknowledged. */
  get settled(): boolean {
    return this.unacked === 0;
  }

  stop(): void {
    this.stopped = true;
  }

  private track(eventId: string, delivered: Promise<DeliveryResult>, tries: number): void {
    this.unacked++;
    void delivered.then((result) => {
      if (result.via === "websocket" && result.code === 200) {
        this.unacked--;
        return;
      }
      if (this.stopped || tries >= this.maxTries) {
        this.unacked--;
        return;
      }
      setTimeout(() => {
        this.unacked--;
        if (this.stopped) return;
        this.redeliveries++;
        this.track(eventId, this.emu.redeliver(eventId).delivered, tries + 1);
      }, this.retryMs);
    });
  }
}

/** The bridge's posts in a chat that begin with one of the health notices' signs. */
export function notices(emu: FeishuEmulator, chatId: string, sign: "⚠" | "✓"): string[] {
  return emu
    .messages(chatId)
    .filter((m) => m.senderAppId === emu.bridge.appId && m.text?.startsWith(sign))
    .map((m) => m.text!);
}

/** Log records (pino JSON) at warn or above whose message or error mentions `pattern`. */
export function logged(
  lines: readonly string[],
  pattern: RegExp,
  minLevel = 40,
): { level: number; msg: string; err?: { message?: string; code?: string } }[] {
  return lines
    .flatMap((line) => {
      try {
        return [
          JSON.parse(line) as { level: number; msg: string; err?: { message?: string; code?: string } },
        ];
      } catch {
        return []; // A line cut short by a SIGKILL.
      }
    })
    .filter(
      (r) => r.level >= minLevel && pattern.test(`${r.msg} ${r.err?.message ?? ""} ${r.err?.code ?? ""}`),
    );
}

/** Temp files of atomic writes left anywhere under `dir` (`.<name>.<pid>.<hex>.tmp`). */
export function leftoverTempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.tmp$/.test(f));
}

/** The health monitor's pace for tests: look often, announce at once. */
export const FAST_HEALTH = { intervalMs: 100, graceMs: 0 } as const;

/** Waits for the bridge's post in `chatId` that contains `text` (a health notice), and returns its text. */
export function noticeContaining(emu: FeishuEmulator, chatId: string, text: string): Promise<string> {
  return waitFor(
    () =>
      emu.messages(chatId).find((m) => m.senderAppId === emu.bridge.appId && m.text?.includes(text))?.text,
    { timeoutMs: 15_000, what: `a notice saying "${text}" in ${chatId}` },
  );
}
