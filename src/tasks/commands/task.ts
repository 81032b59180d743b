import { isoWithOffset } from "../../core/index.js";
import { taskStateLabel } from "../cards/index.js";
import type { Command } from "../command-context.js";
import { requesterLabel } from "../task-service.js";

/** Output shown by /task: the end of it (the whole text is in the inbox files). */
const OUTPUT_CHARS = 3_000;

/** `/task <id>`: one task's details and the end of its output. */
export const task: Command = {
  name: "task",
  aliases: [],
  usage: "usageTask",
  needs: "anyone",
  async run(ctx) {
    const id = ctx.args.split(/\s+/)[0] ?? "";
    if (!id) {
      await ctx.reply(ctx.t("usagePrefix", { usage: ctx.t("usageTask") }));
      return;
    }
    const found = ctx.services.tasks.get(id);
    if (!found) {
      await ctx.reply(ctx.t("unknownTask", { id }));
      return;
    }
    const when = (ms: number | undefined) => (ms === undefined ? ctx.t("notYet") : isoWithOffset(ms));
    const lines = [
      ctx.t("taskDetails", {
        id: found.id,
        state: taskStateLabel(found.state, ctx.locale) + (found.reason ? ` — ${found.reason}` : ""),
        node: found.node ?? found.target ?? ctx.t("anyNode"),
        who: requesterLabel(found.requestedBy),
        created: when(found.createdAt),
        started: when(found.startedAt),
        finished: when(found.endedAt),
        prompt: found.prompt,
      }),
    ];
    if (found.output) {
      const output =
        found.output.length > OUTPUT_CHARS ? `…${found.output.slice(-OUTPUT_CHARS)}` : found.output;
      lines.push("", ctx.t("taskOutput", { output }));
    }
    await ctx.reply(lines.join("\n"));
  },
};
