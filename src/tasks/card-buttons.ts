import { silentLogger, systemClock, type Clock, type Locale, type Logger } from "../core/index.js";
import type { CardActionAnswer, CardActionEvent } from "../feishu/index.js";
import type { NodePool } from "../nodes/index.js";
import type { AccessPolicy } from "./access.js";
import { ANY_NODE, dispatchFormCard, taskCard, taskStateLabel } from "./cards/index.js";
import type { CardChat } from "./card-chat.js";
import type { CommandServices } from "./command-context.js";
import { describeRefusal } from "./dispatch-refusal.js";
import { tasksMessages, type TasksMessageKey } from "./messages.js";
import { refusal } from "./refusal.js";
import { requesterLabel, type TaskService } from "./task-service.js";

export interface CardButtonsOptions {
  tasks: TaskService;
  access: AccessPolicy;
  pool: NodePool;
  services: Pick<CommandServices, "nodes" | "pool" | "tasks">;
  chat?: CardChat;
  self: string;
  locale: Locale;
  clock?: Clock;
  logger?: Logger;
}

/** What each button needs: the same permission as the command it stands for. */
const NEEDS: Record<string, TasksMessageKey> = {
  "task.cancel": "actionCancel",
  "task.retry": "actionRun",
  "run.form": "actionRun",
  "run.submit": "actionRun",
};

/**
 * The buttons and the form on task cards (`card.action.trigger`), answered within Feishu's
 * 3 s: a toast, and the card as it is now. Access is the operator's — the person who pressed,
 * as Feishu reports them — never the card's author or anything written in the card's value.
 */
export class CardButtons {
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly options: CardButtonsOptions) {
    this.log = (options.logger ?? silentLogger()).child({ component: "card-buttons" });
    this.clock = options.clock ?? systemClock;
  }

  async handle(event: CardActionEvent): Promise<CardActionAnswer | undefined> {
    const { locale, access } = this.options;
    const t = tasksMessages.t(locale);
    const kind = typeof event.action.value.cb === "string" ? event.action.value.cb : undefined;
    const action = kind ? NEEDS[kind] : undefined;
    if (!kind || !action) {
      this.log.debug({ value: event.action.value }, "card action not ours; ignored");
      return undefined;
    }
    const openId = event.operator.openId;
    const permissions = access.of(openId);
    if (!permissions.canDispatch) {
      this.log.info({ button: kind, openId }, "card button refused: not a dispatcher");
      return toast("error", t("buttonRefused", { why: refusal(t, access, openId, action) }));
    }
    const taskId = typeof event.action.value.task === "string" ? event.action.value.task : "";
    switch (kind) {
      case "task.cancel": {
        const result = await this.options.tasks.cancel(taskId, { openId, isAdmin: permissions.isAdmin });
        if (result.ok)
          return {
            ...toast("success", t("cancelledReply", { id: result.task.id })),
            card: this.card(result.task.id),
          };
        if (result.reason === "unknown-task") return toast("warning", t("buttonStale"));
        if (result.reason === "finished") {
          const state = taskStateLabel(result.task!.state, locale);
          return {
            ...toast("info", t("alreadyFinished", { id: result.task!.id, state })),
            card: this.card(result.task!.id),
          };
        }
        return toast(
          "error",
          t("notYours", { id: result.task!.id, who: requesterLabel(result.task!.requestedBy) }),
        );
      }
      case "task.retry": {
        const result = await this.options.tasks.retry(
          taskId,
          { kind: "user", openId },
          undefined,
          `press:${event.eventId}`,
        );
        if (!result.ok)
          return toast(
            "error",
            describeRefusal({ t, services: this.options.services }, result.reason, result.name),
          );
        return toast(
          "success",
          t("formSubmitted", { id: result.task.id, state: taskStateLabel(result.task.state, locale) }),
        );
      }
      case "run.form": {
        if (!event.chatId || !this.options.chat) return toast("warning", t("buttonStale"));
        const nodes = this.options.pool.health();
        const tags = [...new Set(nodes.flatMap((n) => n.tags))];
        void this.options.chat
          .send({
            chatId: event.chatId,
            ...(event.messageId ? { replyTo: event.messageId } : {}),
            content: {
              kind: "card",
              card: dispatchFormCard({ nodes, tags, locale }),
              fallbackText: t("usageRun"),
            },
            uuid: `form-${event.eventId}`.slice(0, 50),
          })
          .catch((error: unknown) => this.log.warn({ err: error }, "could not send the dispatch form"));
        return undefined;
      }
      case "run.submit": {
        const form = event.action.formValue ?? {};
        const prompt = typeof form.prompt === "string" ? form.prompt.trim() : "";
        const chosen = typeof form.target === "string" ? form.target.trim() : "";
        const rawTarget = chosen === ANY_NODE ? "" : chosen;
        const nodes = this.options.pool.health();
        const tags = [...new Set(nodes.flatMap((n) => n.tags))];
        if (!prompt) {
          return {
            ...toast("warning", t("formMissingPrompt")),
            card: dispatchFormCard({
              nodes,
              tags,
              locale,
              error: t("formMissingPrompt"),
              ...(rawTarget ? { target: rawTarget } : {}),
            }),
          };
        }
        if (!event.chatId) return toast("warning", t("buttonStale"));
        const result = await this.options.tasks.dispatch({
          prompt,
          ...(rawTarget ? { target: rawTarget } : {}),
          requestedBy: { kind: "user", openId },
          place: { chatId: event.chatId, ...(event.messageId ? { replyTo: event.messageId } : {}) },
          // This press (a form is sent again and again: each press is its own task).
          sourceMessageId: `press:${event.eventId}`,
          locale,
        });
        if (!result.ok)
          return toast(
            "error",
            describeRefusal({ t, services: this.options.services }, result.reason, result.name),
          );
        // The form comes back emptied (its target kept, for the next task to the same place): a
        // second press of Dispatch is then an empty prompt, not the same task twice.
        return {
          ...toast(
            "success",
            t("formSubmitted", { id: result.task.id, state: taskStateLabel(result.task.state, locale) }),
          ),
          card: dispatchFormCard({ nodes, tags, locale, ...(rawTarget ? { target: rawTarget } : {}) }),
        };
      }
    }
    return undefined;
  }

  private card(id: string) {
    const task = this.options.tasks.get(id)!;
    return taskCard(task, { now: this.clock.now(), selfInbox: this.options.self });
  }
}

function toast(type: "info" | "success" | "warning" | "error", content: string): CardActionAnswer {
  return { toast: { type, content } };
}
