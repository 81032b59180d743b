import { taskStateLabel } from "../cards/index.js";
import type { Command } from "../command-context.js";
import { requesterLabel } from "../task-service.js";

/** `/cancel <id>`: a dispatcher cancels their own task, an admin anyone's. */
export const cancel: Command = {
  name: "cancel",
  aliases: ["取消"],
  usage: "usageCancel",
  needs: "dispatch",
  action: "actionCancel",
  async run(ctx) {
    const id = ctx.args.split(/\s+/)[0] ?? "";
    if (!id) {
      await ctx.reply(ctx.t("usagePrefix", { usage: ctx.t("usageCancel") }));
      return;
    }
    const result = await ctx.services.tasks.cancel(id, {
      openId: ctx.sender.openId,
      isAdmin: ctx.access.isAdmin,
    });
    if (result.ok) {
      await ctx.reply(ctx.t("cancelledReply", { id: result.task.id }));
    } else if (result.reason === "unknown-task") {
      await ctx.reply(ctx.t("unknownTask", { id }));
    } else if (result.reason === "finished") {
      await ctx.reply(
        ctx.t("alreadyFinished", {
          id: result.task!.id,
          state: taskStateLabel(result.task!.state, ctx.locale),
        }),
      );
    } else {
      await ctx.reply(
        ctx.t("notYours", { id: result.task!.id, who: requesterLabel(result.task!.requestedBy) }),
      );
    }
  },
};
