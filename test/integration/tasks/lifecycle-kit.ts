import { appendFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { RunningBridge } from "../../../src/app.js";
import type { RunInfo } from "../../../src/sim/fake-gateway.js";
import type { EmulatedMessage, Emitted, Person } from "../../../src/sim/feishu/index.js";
import { readTasks, type Task, type TaskState } from "../../../src/tasks/index.js";
import type { BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
export { buttonValues, cardText, cardTitle } from "../../helpers/card-reading.js";
import { cardText, cardTitle } from "../../helpers/card-reading.js";

/** What the task lifecycle tests share: commands, cards, the folder's record, the journal. */

export type Line = Record<string, unknown>;

export const openId = (world: BridgeWorld, person: Person) => person.openIdFor(world.emu.bridge.appId);

/** `@clawbridge <text>` in a chat (the group by default). */
export function command(world: BridgeWorld, person: Person, text: string, chatId = world.emu.defaultChat) {
  return world.emu.say(chatId, person, text, { mentions: ["bridge"] });
}

/** Every line of `messages/to-<node>.jsonl`, parsed. */
export function inbox(world: BridgeWorld, node: string): Line[] {
  const file = path.join(world.root, "messages", `to-${node}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);
}

/** An agent appends one line to an inbox, in one write (as the seed's agents do). */
export function appendLine(world: BridgeWorld, node: string, line: Line): void {
  appendFileSync(path.join(world.root, "messages", `to-${node}.jsonl`), `${JSON.stringify(line)}\n`);
}

/** The bridge's messages threaded under `messageId`, oldest first. */
export function repliesTo(world: BridgeWorld, messageId: string, chatId = world.emu.defaultChat) {
  return world.emu.messages(chatId).filter((m) => m.parentId === messageId && m.senderAppId);
}

/** The task card answering a command (as it is now), if sent. */
export function cardOf(world: BridgeWorld, said: Pick<Emitted, "messageId">): EmulatedMessage | undefined {
  return repliesTo(world, said.messageId).find((m) => m.msgType === "interactive");
}

/** Waits until the command's card satisfies `check` (e.g. its title says "done"). */
export function cardWhen(
  world: BridgeWorld,
  said: Pick<Emitted, "messageId">,
  check: (card: EmulatedMessage) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<EmulatedMessage> {
  return waitFor(
    () => {
      const card = cardOf(world, said);
      return card && check(card) ? card : undefined;
    },
    { what: () => `${what} (card now: ${describeCard(cardOf(world, said))})`, timeoutMs },
  );
}

export function describeCard(card: EmulatedMessage | undefined): string {
  return card ? `${cardTitle(card)} | ${cardText(card.content).replace(/\n/g, " / ")}` : "none";
}

/** The final message of a task answering this command: text with an @mention, threaded under it. */
export function finalOf(world: BridgeWorld, said: Pick<Emitted, "messageId">): EmulatedMessage | undefined {
  return repliesTo(world, said.messageId).find(
    (m) => m.msgType === "text" && m.text?.includes("<at user_id="),
  );
}

export function finalMessage(world: BridgeWorld, said: Pick<Emitted, "messageId">) {
  return waitFor(() => finalOf(world, said), { what: "the task's final message" });
}

/** The bridge's text replies to a command (not the final @mention message). */
export function textReplies(world: BridgeWorld, said: Pick<Emitted, "messageId">): string[] {
  return repliesTo(world, said.messageId)
    .filter((m) => m.msgType === "text")
    .map((m) => m.text ?? "");
}

/** The task as the journal file holds it now. */
export async function journaled(world: BridgeWorld, id: string): Promise<Task | undefined> {
  return (await readTasks(world.stateDir)).find((task) => task.id === id);
}

/** Waits until the journal file says the task is in `state`. */
export function journaledAs(world: BridgeWorld, id: string, state: TaskState, timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const task = await journaled(world, id);
      return task?.state === state ? task : undefined;
    },
    { what: `${id} journaled as ${state}`, timeoutMs },
  );
}

export const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

/** Request frames of one method a fake gateway received. */
export function requests(world: BridgeWorld, node: "ai-pc" | "office-mac", method: string) {
  return world.gateways[node].received
    .filter((r) => r.frame.method === method)
    .map((r) => ({ ...r.frame, params: (r.frame.params ?? {}) as Record<string, unknown> }));
}

/** The most runs that were going at the same moment. */
export function peakOverlap(runs: readonly RunInfo[]): number {
  const edges = runs.flatMap((r) => [
    { at: r.startedAt, step: 1 },
    { at: r.endedAt ?? Number.POSITIVE_INFINITY, step: -1 },
  ]);
  // An end and a start at the same millisecond: the end first (the slot was freed, then taken).
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (now += edge.step));
  return peak;
}

/** Until the bridge reports the gateway nodes online (`GET /readyz`, what ops sees too). */
export function nodesOnline(bridge: RunningBridge, nodes: readonly string[] = ["ai-pc", "office-mac"]) {
  return waitFor(
    async () => {
      const response = await fetch(`${bridge.url}/readyz`);
      const body = (await response.json()) as { parts: Record<string, { detail?: string }> };
      return nodes.every((n) => body.parts[`node:${n}`]?.detail === "online") ? (true as const) : undefined;
    },
    { what: `${nodes.join(", ")} online` },
  );
}

/** A slow text script: `chunks` lines, `delayMs` apart. */
export function slowScript(chunks: number, delayMs: number, last = "all done") {
  const lines = Array.from({ length: chunks }, (_, i) => (i === chunks - 1 ? last : `step ${i + 1}`));
  return { kind: "text" as const, text: lines.join("\n"), chunks, delayMs };
}
