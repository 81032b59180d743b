import { nodeKey } from "../../core/index.js";
import { dispatchFormCard } from "../cards/index.js";
import type { Command, CommandContext } from "../command-context.js";
import { describeRefusal } from "../dispatch-refusal.js";

/** `/run [node|#tag] <prompt>`: a task on a node the pool picks; no prompt → the dispatch form. */
export const run: Command = {
  name: "run",
  aliases: ["运行"],
  usage: "usageRun",
  needs: "dispatch",
  action: "actionRun",
  async run(ctx) {
    const { target, prompt } = parseRunArgs(ctx);
    if (!prompt) {
      await sendDispatchForm(ctx, target);
      return;
    }
    const { message } = ctx;
    const result = await ctx.services.tasks.dispatch({
      prompt,
      ...(target ? { target } : {}),
      requestedBy: { kind: "user", openId: ctx.sender.openId },
      place: { chatId: message.chatId, replyTo: message.messageId },
      sourceMessageId: message.messageId,
      locale: ctx.locale,
    });
    // The card (a reply to this message) says the rest.
    if (!result.ok) await ctx.reply(describeRefusal(ctx, result.reason, result.name));
  },
};

/** `#tag` or a node's name (or display name) first; anything else is all prompt, for any node. */
export function parseRunArgs(ctx: CommandContext): { target?: string; prompt: string } {
  const [first = "", ...rest] = ctx.args.split(/\s+/);
  if (first.startsWith("#") && first.length > 1) return { target: first, prompt: rest.join(" ").trim() };
  const node =
    ctx.services.nodes.find((n) => nodeKey(n.name) === nodeKey(first))?.name ??
    ctx.services.book.nodeForName(first);
  if (node) return { target: node, prompt: ctx.args.slice(ctx.args.indexOf(first) + first.length).trim() };
  return { prompt: ctx.args };
}

export async function sendDispatchForm(ctx: CommandContext, target?: string): Promise<void> {
  const nodes = ctx.services.pool.health();
  const tags = [...new Set(nodes.flatMap((n) => n.tags.map((tag) => tag.replace(/^#/, ""))))];
  const card = dispatchFormCard({ nodes, tags, locale: ctx.locale, ...(target ? { target } : {}) });
  await ctx.replyCard(card, ctx.t("usagePrefix", { usage: ctx.t("usageRun") }));
}
