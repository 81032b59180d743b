import { isFinalState, type Task } from "../types.js";
import { foldLine } from "./clip-text.js";
import { formatDuration } from "./durations.js";
import { inertMentions } from "../../core/index.js";
import { taskCardsMessages as m, type TaskCardsMessageKey } from "./messages.js";
import { taskDurationMs, taskStateLabel } from "./task-state.js";

const FINAL_KEYS: Record<"done" | "failed" | "cancelled" | "timeout", TaskCardsMessageKey> = {
  done: "finalDone",
  failed: "finalFailed",
  cancelled: "finalCancelled",
  timeout: "finalTimeout",
};

const REASON_CHARS = 300;

/**
 * The message posted when a task ends, in the task's locale — `任务 T7 已完成（ai-pc，3分12秒）`,
 * `Task T7 failed (ai-pc, 12 s): <reason>`. The caller prepends the @mention. The reason may
 * quote a remote error, so it is folded to one line and cannot mention anyone.
 */
export function taskFinalText(task: Task, now: number): string {
  const t = m.t(task.locale);
  if (!isFinalState(task.state)) {
    return t("finalOpen", { id: task.id, state: taskStateLabel(task.state, task.locale) });
  }
  const parts: string[] = [];
  if (task.node !== undefined) parts.push(task.node);
  const ran = taskDurationMs(task, now);
  if (ran !== undefined) parts.push(formatDuration(ran, task.locale));
  const details = parts.length > 0 ? t("details", { parts: parts.join(t("detailsJoin")) }) : "";
  const key = FINAL_KEYS[task.state as keyof typeof FINAL_KEYS];
  const sentence = t(key, { id: task.id, details });
  const reason = task.state !== "done" && task.reason ? foldLine(task.reason, REASON_CHARS) : "";
  return reason === "" ? sentence : sentence + t("reasonSuffix", { reason: inertMentions(reason) });
}
