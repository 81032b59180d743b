import type { Bot, EmulatedMessage } from "../../sim/feishu/index.js";
import type { DemoWorld } from "../types.js";

/** How the page draws a sender: the visitor on the right, the bridge and node bots badged. */
export type SenderRole = "visitor" | "bridge" | "node-bot" | "person" | "bot";

export interface Sender {
  name: string;
  role: SenderRole;
  /** The node whose bot this is. */
  node?: string;
}

/** Someone the visitor can @mention from the page: the bridge's bot or a node's bot. */
export interface Mentionable {
  /** `bridge`, or the node's name. */
  id: string;
  /** The bot's name, as typed after `@`. */
  name: string;
  /** The node it speaks for (node bots). */
  node?: string;
}

/**
 * Who is who in the demo group, from the world: names by union id (mentions of emulated
 * messages), by the open_id the bridge sees (`<at>` tags the bridge writes), by app (senders).
 */
export class WorldDirectory {
  private readonly byUnion = new Map<string, Sender>();
  private readonly byApp = new Map<string, Sender>();
  private readonly bridgeAppId: string;
  /** open_id as the bridge app sees it → name. */
  readonly names: Record<string, string> = {};
  readonly mentionables: Mentionable[] = [];

  constructor(private readonly world: DemoWorld) {
    this.bridgeAppId = world.bridgeBot.appId;
    this.add(world.visitor.unionId, { name: world.visitor.name, role: "visitor" });
    this.names[world.visitor.openIdFor(this.bridgeAppId)] = world.visitor.name;
    this.addBot(world.bridgeBot, { name: world.bridgeBot.name, role: "bridge" });
    this.mentionables.push({ id: "bridge", name: world.bridgeBot.name });
    for (const node of world.nodes) {
      if (!node.bot) continue;
      this.addBot(node.bot, { name: node.bot.name, role: "node-bot", node: node.name });
      this.mentionables.push({ id: node.name, name: node.bot.name, node: node.name });
    }
  }

  /** The sender of a message; strangers are named from the message or the emulator. */
  sender(message: EmulatedMessage): Sender {
    const known = this.byUnion.get(message.senderUnionId);
    if (known) return known;
    if (message.senderPerson !== undefined) return { name: message.senderPerson, role: "person" };
    if (message.senderAppId !== undefined) {
      const app = this.byApp.get(message.senderAppId);
      if (app) return app;
      try {
        return { name: this.world.emulator.appInfo(message.senderAppId).botName, role: "bot" };
      } catch {
        return { name: message.senderAppId, role: "bot" };
      }
    }
    return { name: "?", role: "person" };
  }

  /** A principal's name by union id, when the world knows it. */
  nameOfUnion(unionId: string): string | undefined {
    return this.byUnion.get(unionId)?.name;
  }

  /** The bot a mention id (`bridge` or a node name) stands for. */
  botFor(id: string): Bot | undefined {
    if (id === "bridge") return this.world.bridgeBot;
    return this.world.nodes.find((node) => node.name === id)?.bot;
  }

  private addBot(bot: Bot, sender: Sender): void {
    this.add(bot.unionId, sender);
    this.byApp.set(bot.appId, sender);
    this.names[bot.openIdFor(this.bridgeAppId)] = bot.name;
  }

  private add(unionId: string, sender: Sender): void {
    this.byUnion.set(unionId, sender);
  }
}
