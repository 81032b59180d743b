import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RunningBridge } from "../../../src/app.js";
import type { EmulatedMessage, Emitted, Person, PostElement } from "../../../src/sim/feishu/index.js";
import type { BridgeWorld } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";
export { buttonValues, cardText, cardTitle } from "../../helpers/card-reading.js";
import { cardText } from "../../helpers/card-reading.js";

/** What the chat commands tests share: saying things to the bridge and reading its answers. */

export const openId = (world: BridgeWorld, person: Person) => person.openIdFor(world.emu.bridge.appId);

/** `@clawbridge <text>` in the group. */
export function tell(world: BridgeWorld, person: Person, text: string): Emitted {
  return world.emu.say(world.emu.defaultChat, person, text, { mentions: ["bridge"] });
}

/** The bridge's answers to one message (threaded under it), oldest first. */
export function answersTo(world: BridgeWorld, messageId: string, chatId = world.emu.defaultChat) {
  return world.emu.messages(chatId).filter((m) => m.parentId === messageId && m.senderAppId);
}

/** Waits for the bridge's first answer to `said` (of `msgType`, if given). */
export function answerTo(
  world: BridgeWorld,
  said: Pick<Emitted, "messageId">,
  msgType?: "text" | "interactive",
): Promise<EmulatedMessage> {
  return waitFor(
    () => answersTo(world, said.messageId).find((m) => msgType === undefined || m.msgType === msgType),
    { what: `the bridge's ${msgType ?? ""} answer to ${said.messageId}` },
  );
}

/** Says `text` to the bridge and waits for its text answer. */
export async function ask(world: BridgeWorld, person: Person, text: string): Promise<string> {
  const said = tell(world, person, text);
  const answer = await answerTo(world, said, "text");
  return answer.text ?? "";
}

/** A message whose current card shows `text`. */
export function cardShows(message: EmulatedMessage | undefined, text: string): boolean {
  return message !== undefined && cardText(message.content).includes(text);
}

/** The message as the emulator holds it now. */
export function current(world: BridgeWorld, messageId: string): EmulatedMessage {
  const message = world.emu.message(messageId);
  if (!message) throw new Error(`no message ${messageId}`);
  return message;
}

/** `/run` and the like sent as rich text (a `post`), as the mobile app often does. */
export function sayPost(world: BridgeWorld, person: Person, text: string): Emitted {
  const paragraph: PostElement[] = [
    { tag: "at", who: "bridge" },
    { tag: "text", text: ` ${text}` },
  ];
  return world.emu.sayPost(world.emu.defaultChat, person, { paragraphs: [paragraph] });
}

export const agentRuns = (world: BridgeWorld, node: "ai-pc" | "office-mac") =>
  world.gateways[node].runs().filter((r) => r.origin === "agent");

/** Until the bridge reports both gateways online (`GET /readyz`, what ops sees too). */
export function bothGatewaysOnline(bridge: RunningBridge): Promise<true> {
  return waitFor(
    async () => {
      const response = await fetch(`${bridge.url}/readyz`);
      const body = (await response.json()) as { parts: Record<string, { detail?: string }> };
      return body.parts["node:ai-pc"]?.detail === "online" &&
        body.parts["node:office-mac"]?.detail === "online"
        ? (true as const)
        : undefined;
    },
    { what: "ai-pc and office-mac online" },
  );
}

/** nas-agent writes its status file, so the pool sees a live mailbox-only node. */
export function nasAgentAlive(world: BridgeWorld): void {
  const dir = path.join(world.root, "status");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "nas-agent.json"),
    JSON.stringify({ node: "nas-agent", updatedAt: new Date().toISOString(), intervalMs: 60_000 }),
  );
}

/** Presses a button (or submits a form) and returns the toast the bridge answered with, if any. */
export async function press(
  world: BridgeWorld,
  messageId: string,
  person: Person,
  value: Record<string, unknown>,
  form?: Record<string, unknown>,
) {
  const before = world.emu.lastToast;
  const pressed = form
    ? world.emu.submitForm(messageId, person, form)
    : world.emu.clickCard(messageId, person, value);
  await pressed.delivered;
  const after = world.emu.lastToast;
  return after === before ? undefined : after;
}
