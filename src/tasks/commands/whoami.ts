import type { Command } from "../command-context.js";

/** `/whoami`: the ids to paste into `access`. */
export const whoami: Command = {
  name: "whoami",
  aliases: ["我是谁"],
  usage: "usageWhoami",
  needs: "anyone",
  async run(ctx) {
    await ctx.reply(
      ctx.t("whoami", { openId: ctx.sender.openId, unionId: ctx.sender.unionId ?? ctx.t("noUnionId") }),
    );
  },
};
