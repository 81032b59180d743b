import { taskStateLabel } from "../cards/index.js";
import type { Command } from "../command-context.js";
import { requesterLabel } from "../task-service.js";

const SHOWN = 10;

/** `/tasks`: the latest tasks, newest first, with state and who asked. */
export const tasks: Command = {
  name: "tasks",
  aliases: ["任务"],
  usage: "usageTasks",
  needs: "anyone",
  async run(ctx) {
    const list = ctx.services.tasks.list(SHOWN);
    if (list.length === 0) {
      await ctx.reply(ctx.t("tasksEmpty"));
      return;
    }
    const lines = list.map((task) =>
      ctx.t("tasksLine", {
        id: task.id,
        node: task.node ?? task.target ?? ctx.t("anyNode"),
        state: taskStateLabel(task.state, ctx.locale),
        who: requesterLabel(task.requestedBy),
        prompt: fold(task.prompt, 40),
      }),
    );
    await ctx.reply([ctx.t("tasksTitle"), ...lines].join("\n"));
  },
};

export function fold(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
