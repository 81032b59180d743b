import type { CardJson } from "../../feishu/index.js";
import { isFinalState, type Task } from "../types.js";
import { CARD_CALLBACKS } from "./callbacks.js";
import {
  callbackButton,
  card,
  divider,
  largestFitting,
  markdown,
  plainText,
  type CardElement,
} from "./card-parts.js";
import { escapeMarkdown } from "./escape-markdown.js";
import { clipHead, foldLine, tailText } from "./clip-text.js";
import { formatClock, formatDuration } from "./durations.js";
import { taskCardsMessages as m } from "./messages.js";
import {
  TASK_STATE_COLORS,
  cancellerName,
  requesterName,
  taskDurationMs,
  taskStateText,
} from "./task-state.js";

export interface TaskCardOptions {
  now: number;
  /** 1-based place in the queue, shown while the task is queued. */
  queuePosition?: number;
  /** How many of the output's last lines to show (default 20). */
  outputLines?: number;
  /** At most this many characters of output (default 3000). */
  maxOutputChars?: number;
  /** The bridge's own inbox (`mailbox.self`), where results for people go (default "clawbridge"). */
  selfInbox?: string;
}

const PROMPT_CHARS = 300;
const REASON_CHARS = 500;
const NAME_CHARS = 60;
// The size cap never shrinks the output below this; the pointer to the full result says the rest.
const MIN_OUTPUT_CHARS = 200;

/** "任务 T7 · ai-pc · 运行中 · 00:03" / "Task T7 · ai-pc · done · 3 min 12 s". */
export function taskHeaderText(task: Task, now: number, queuePosition?: number): string {
  const t = m.t(task.locale);
  const parts = [t("taskTitle", { id: task.id })];
  const waitsForMailbox = task.state === "running" && task.via === "mailbox";
  // The mailbox wait already names the node; once is enough on a phone-wide header.
  const where = waitsForMailbox ? undefined : (task.node ?? task.target);
  if (where) parts.push(foldLine(where, NAME_CHARS));
  parts.push(taskStateText(task, queuePosition));
  if (task.state === "running") {
    parts.push(formatClock(now - (task.startedAt ?? task.createdAt)));
  } else if (isFinalState(task.state)) {
    const ran = taskDurationMs(task, now);
    if (ran !== undefined) parts.push(formatDuration(ran, task.locale));
  }
  return parts.join(" · ");
}

/**
 * The live card of one task: who asked, where it runs, the prompt, the end of the output,
 * why it ended badly, and Cancel (while open) or Retry (once final). Prompt and output are
 * `plain_text`, so nothing an agent writes can mention, link or format.
 */
export function taskCard(task: Task, opts: TaskCardOptions): CardJson {
  const maxChars = Math.max(1, opts.maxOutputChars ?? 3000);
  const minChars = Math.min(MIN_OUTPUT_CHARS, maxChars);
  return largestFitting((chars) => buildTaskCard(task, opts, chars), minChars, maxChars);
}

function buildTaskCard(task: Task, opts: TaskCardOptions, outputChars: number): CardJson {
  const t = m.t(task.locale);
  const final = isFinalState(task.state);
  const meta = { color: "grey", size: "notation" } as const;
  const elements: CardElement[] = [];

  const asker = task.requestedBy;
  // Feishu renders `<at id=…></at>` in card markdown as the person's name (events do not carry
  // names); the id is ours (from the event's operator), reduced to the characters ids have.
  const askerId = asker.kind === "user" ? asker.openId.replace(/[^A-Za-z0-9_-]/g, "") : "";
  elements.push(
    asker.kind === "user" && !asker.name && askerId
      ? markdown(
          `<font color='grey'>${escapeMarkdown(t("askedByUser", { name: "" }))}<at id=${askerId}></at></font>`,
        )
      : plainText(
          asker.kind === "user"
            ? t("askedByUser", { name: foldLine(requesterName(asker), NAME_CHARS) })
            : t("askedByAgent", { node: asker.node }),
          meta,
        ),
  );
  const target = task.target ? foldLine(task.target, NAME_CHARS) : t("anyNode");
  elements.push(
    plainText(
      task.node !== undefined && task.node !== task.target
        ? t("targetOn", { target, node: task.node })
        : t("target", { target }),
      meta,
    ),
  );
  elements.push(plainText(clipHead(task.prompt.trim(), PROMPT_CHARS)));

  if (task.output.trim() !== "" || task.state !== "queued") {
    elements.push(divider());
    if (task.output.trim() === "") {
      elements.push(plainText(final ? t("noOutput") : t("noOutputYet"), { color: "grey" }));
    } else {
      const tail = tailText(task.output, opts.outputLines ?? 20, outputChars);
      elements.push(plainText(tail.text));
      if (tail.cut) {
        const inbox = asker.kind === "agent" ? asker.node : (opts.selfInbox ?? "clawbridge");
        elements.push(plainText(t("outputCut", { id: task.id, inbox }), meta));
      }
    }
  }

  if (task.state === "failed" || task.state === "timeout" || task.state === "cancelled") {
    const color = task.state === "cancelled" ? "grey" : task.state === "timeout" ? "orange" : "red";
    if (task.reason)
      elements.push(plainText(t("reason", { reason: foldLine(task.reason, REASON_CHARS) }), { color }));
    const canceller = cancellerName(task);
    if (task.state === "cancelled" && canceller !== undefined) {
      elements.push(plainText(t("cancelledBy", { who: foldLine(canceller, NAME_CHARS) }), meta));
    }
  }
  if (!final && task.via === "mailbox" && task.node !== undefined) {
    elements.push(plainText(t("mailboxNote", { node: task.node }), meta));
  }

  elements.push(
    final
      ? callbackButton(t("retryButton"), { cb: CARD_CALLBACKS.taskRetry, task: task.id })
      : callbackButton(
          t("cancelButton"),
          { cb: CARD_CALLBACKS.taskCancel, task: task.id },
          // A phone in a pocket presses things; cancelling someone's run deserves a second tap.
          {
            type: "danger",
            confirm: { title: t("cancelConfirmTitle", { id: task.id }), text: t("cancelConfirmText") },
          },
        ),
  );
  return card(taskHeaderText(task, opts.now, opts.queuePosition), TASK_STATE_COLORS[task.state], elements);
}
