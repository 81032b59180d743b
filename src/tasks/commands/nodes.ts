import { nodesCard } from "../cards/index.js";
import type { Command } from "../command-context.js";

/** `/nodes`: one card with every node's state, load, tags; a button opens the dispatch form. */
export const nodes: Command = {
  name: "nodes",
  aliases: ["节点"],
  usage: "usageNodes",
  needs: "anyone",
  async run(ctx) {
    const health = ctx.services.pool.health();
    const card = nodesCard(health, {
      now: ctx.services.now(),
      canDispatch: ctx.access.canDispatch,
      locale: ctx.locale,
    });
    const fallback = health.map((n) => `${n.name}: ${n.status} ${n.running}/${n.maxConcurrent}`).join("\n");
    await ctx.replyCard(card, fallback);
  },
};
