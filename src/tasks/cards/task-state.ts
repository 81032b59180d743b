import type { Locale } from "../../core/index.js";
import type { Task, TaskRequester, TaskState } from "../types.js";
import type { HeaderColor } from "./card-parts.js";
import { taskCardsMessages as m, type TaskCardsMessageKey } from "./messages.js";

const LABEL_KEYS: Record<TaskState, TaskCardsMessageKey> = {
  queued: "stateQueued",
  running: "stateRunning",
  done: "stateDone",
  failed: "stateFailed",
  cancelled: "stateCancelled",
  timeout: "stateTimeout",
};

/** One word for a task's state: 排队中 / 运行中 / 已完成 / 失败 / 已取消 / 已超时. */
export function taskStateLabel(state: TaskState, locale: Locale): string {
  return m.t(locale)(LABEL_KEYS[state]);
}

/** The header colour of a task card in each state. */
export const TASK_STATE_COLORS: Record<TaskState, HeaderColor> = {
  queued: "grey",
  running: "blue",
  done: "green",
  failed: "red",
  cancelled: "grey",
  timeout: "orange",
};

/**
 * The state as the card's header says it: with the queue position while queued, and for a
 * mailbox-only node, that the task waits for the node to pick it up (nothing streams back
 * from a mailbox, so "running" would promise output that cannot come).
 */
export function taskStateText(task: Task, queuePosition?: number): string {
  const t = m.t(task.locale);
  if (task.state === "queued" && queuePosition !== undefined) {
    return t("stateQueuedAt", { position: queuePosition });
  }
  if (task.state === "running" && task.via === "mailbox" && task.node !== undefined) {
    return t("stateWaitingMailbox", { node: task.node });
  }
  return taskStateLabel(task.state, task.locale);
}

/** Who asked, for people to read: the person's name (or open_id), or the agent's node. */
export function requesterName(requester: TaskRequester): string {
  return requester.kind === "user" ? (requester.name ?? requester.openId) : requester.node;
}

/** Who cancelled: the requester's name when it was them, the open_id otherwise. */
export function cancellerName(task: Task): string | undefined {
  const by = task.cancelledBy;
  if (by === undefined) return undefined;
  const requester = task.requestedBy;
  return requester.kind === "user" && requester.openId === by && requester.name ? requester.name : by;
}

/** How long a finished task ran (start to end); undefined when it never started. */
export function taskDurationMs(task: Task, now: number): number | undefined {
  if (task.startedAt === undefined) return undefined;
  return Math.max(0, (task.endedAt ?? now) - task.startedAt);
}
