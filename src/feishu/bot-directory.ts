import type { FeishuMention, FeishuSender, InboundChatMessage } from "./types.js";

/** A node's own Feishu bot as configured (`nodes[].bot`). */
export interface NodeBot {
  node: string;
  unionId?: string;
  name?: string;
}

/**
 * Recognises the nodes' own bots in mentions and senders. An open_id is per app — the
 * open_id the bridge's app sees for a node's bot is not the one that node's app uses — so
 * a bot is matched by `union_id` or by its configured name, never by a foreign open_id.
 */
export class BotDirectory {
  private readonly byUnionId = new Map<string, string>();
  private readonly byName = new Map<string, string>();

  constructor(bots: readonly NodeBot[]) {
    for (const bot of bots) {
      if (bot.unionId) this.byUnionId.set(bot.unionId, bot.node);
      if (bot.name) this.byName.set(normalizeName(bot.name), bot.node);
    }
  }

  /** The node whose bot this mention names, if any. */
  nodeForMention(mention: FeishuMention): string | undefined {
    if (mention.isBridge) return undefined;
    if (mention.unionId) {
      const node = this.byUnionId.get(mention.unionId);
      if (node) return node;
    }
    return mention.name ? this.byName.get(normalizeName(mention.name)) : undefined;
  }

  /** The node whose bot posted a message (by union_id only: a sender carries no name). */
  nodeForSender(sender: FeishuSender): string | undefined {
    if (sender.type !== "bot" || !sender.unionId) return undefined;
    return this.byUnionId.get(sender.unionId);
  }

  /** Nodes whose bots the message @mentions, in order, without repeats. */
  mentionedNodes(message: Pick<InboundChatMessage, "mentions">): string[] {
    const nodes: string[] = [];
    for (const mention of message.mentions) {
      const node = this.nodeForMention(mention);
      if (node && !nodes.includes(node)) nodes.push(node);
    }
    return nodes;
  }
}

function normalizeName(name: string): string {
  return name.normalize("NFKC").replace(/\s+/g, "").toLowerCase();
}
