import type { Command } from "../command-context.js";
import { commandList } from "./list.js";

/** Lines of /help shown when someone mentions the bridge without a command. */
const BRIEF_LINES = 4;

/** `/help`: every command with a one-line example, in the chat's language. */
export const help: Command = {
  name: "help",
  aliases: ["帮助"],
  usage: "usageHelp",
  needs: "anyone",
  async run(ctx) {
    const usages = commandList().map((command) => ctx.t(command.usage));
    const lines = [ctx.t("helpTitle"), ...usages];
    if (ctx.args === "brief") {
      await ctx.reply([...lines.slice(0, BRIEF_LINES), "/help …"].join("\n"));
      return;
    }
    lines.push("", ctx.t("helpMore", { nodes: ctx.services.nodes.map((n) => n.name).join(", ") }));
    await ctx.reply(lines.join("\n"));
  },
};
