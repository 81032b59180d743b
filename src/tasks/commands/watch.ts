import { closestKey, nodeKey } from "../../core/index.js";
import type { Command } from "../command-context.js";

/** `/watch <node>`: one card in this chat following what the node runs, until /unwatch. */
export const watch: Command = {
  name: "watch",
  aliases: ["关注"],
  usage: "usageWatch",
  needs: "anyone",
  async run(ctx) {
    const name = (ctx.args.split(/\s+/)[0] ?? "").replace(/^[@\uFF20]/, "");
    const names = ctx.services.nodes.map((n) => n.name);
    if (!name) {
      await ctx.reply(ctx.t("usagePrefix", { usage: ctx.t("usageWatch") }) + `\n${names.join(", ")}`);
      return;
    }
    const node =
      ctx.services.nodes.find((n) => nodeKey(n.name) === nodeKey(name))?.name ??
      ctx.services.book.nodeForName(name);
    if (!node) {
      const near = closestKey(name, names);
      await ctx.reply(
        ctx.t("watchUnknownNode", {
          name,
          suggestion: near ? ctx.t("didYouMean", { name: near }) : "",
          nodes: names.join(", "),
        }),
      );
      return;
    }
    await ctx.services.watches.watch(ctx, node);
  },
};
