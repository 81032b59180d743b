import { closestKey, nodeKey } from "../../core/index.js";
import { tellEnvelopeId } from "../../relay/index.js";
import { nodeStatusText } from "../cards/nodes-card.js";
import type { Command } from "../command-context.js";

/**
 * `/tell <node> <text>` (and `@bridge @<node> text`): the relay's person → node route. For a
 * mailbox-only node the thread is remembered first, so its agent's answer line is posted
 * where the question was asked.
 */
export const tell: Command = {
  name: "tell",
  aliases: ["告诉"],
  usage: "usageTell",
  needs: "dispatch",
  action: "actionTell",
  async run(ctx) {
    const { services, message } = ctx;
    const [first = "", ...words] = ctx.args.split(/\s+/);
    const name = first.replace(/^[@\uFF20]/, "");
    const content = ctx.args.slice(ctx.args.indexOf(first) + first.length).trim();
    const names = services.nodes.map((n) => n.name);
    if (!name || !content || words.length === 0) {
      await ctx.reply(ctx.t("usagePrefix", { usage: ctx.t("usageTell") }) + `\n${names.join(", ")}`);
      return;
    }
    const node =
      services.nodes.find((n) => nodeKey(n.name) === nodeKey(name)) ??
      services.nodes.find((n) => n.name === services.book.nodeForName(name));
    if (!node) {
      const near = closestKey(name, names);
      await ctx.reply(
        ctx.t("unknownNode", {
          name,
          suggestion: near ? ctx.t("didYouMean", { name: near }) : "",
          nodes: names.join(", "),
        }),
      );
      return;
    }
    if (!node.hasGateway) {
      await services.journal.putThread({
        envelopeId: tellEnvelopeId(message.messageId),
        node: node.name,
        chatId: message.chatId,
        replyTo: message.rootId ?? message.messageId,
        at: services.now(),
      });
    }
    await services.tell({
      node: node.name,
      content,
      senderOpenId: ctx.sender.openId,
      chatId: message.chatId,
      messageId: message.messageId,
      ...(message.rootId ? { rootId: message.rootId } : {}),
      ...(message.threadId ? { threadId: message.threadId } : {}),
    });
    // Otherwise the asker hears nothing until the node is back (the audit chat is told, they may not be in it).
    const health = node.hasGateway ? services.pool.healthOf(node.name) : undefined;
    if (health && !health.healthy) {
      await ctx.reply(ctx.t("tellWaits", { node: node.name, status: nodeStatusText(health, ctx.locale) }));
    }
  },
};
