import type { Command } from "../command-context.js";

/** `/unwatch`: stops this chat's watch card (it shows that it stopped). */
export const unwatch: Command = {
  name: "unwatch",
  aliases: ["取消关注"],
  usage: "usageUnwatch",
  needs: "anyone",
  async run(ctx) {
    const node = await ctx.services.watches.unwatch(ctx.message.chatId);
    await ctx.reply(node ? ctx.t("unwatched", { node }) : ctx.t("unwatchNone"));
  },
};
