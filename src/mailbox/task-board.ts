import { promises as fs } from "node:fs";
import { DEFAULT_LOCALE, errnoCode, writeFileAtomic, type Locale } from "../core/index.js";
import { withFileLock, type LockOptions } from "./file-lock.js";
import { mailboxMessages } from "./messages.js";
import { linkRefused, READ_NO_FOLLOW, type MailboxLayout } from "./layout.js";

export const TASK_BLOCK_BEGIN = "<!-- clawbridge:tasks:begin -->";
export const TASK_BLOCK_END = "<!-- clawbridge:tasks:end -->";

/** One row of the task board. */
export interface TaskBoardEntry {
  id: string;
  node: string;
  state: string;
  title: string;
  requestedBy?: string;
  /** ISO 8601 (or a shorter local time); empty while queued. */
  startedAt?: string;
  /** ISO 8601 (or a shorter local time); empty while open. */
  finishedAt?: string;
}

function cell(text: string, max = 80): string {
  const flat = text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The block's Markdown, markers included. */
export function renderTaskBlock(entries: readonly TaskBoardEntry[], locale: Locale = DEFAULT_LOCALE): string {
  const t = mailboxMessages.t(locale);
  const lines = [TASK_BLOCK_BEGIN, t("boardHeading"), "", t("boardNote"), ""];
  if (entries.length === 0) {
    lines.push(t("boardEmpty"));
  } else {
    lines.push(
      `| ${t("boardId")} | ${t("boardNode")} | ${t("boardRequestedBy")} | ${t("boardState")} | ${t("boardStarted")} | ${t("boardFinished")} | ${t("boardTitle")} |`,
    );
    lines.push("|---|---|---|---|---|---|---|");
    for (const e of entries) {
      lines.push(
        `| ${cell(e.id, 40)} | ${cell(e.node, 64)} | ${cell(e.requestedBy ?? "", 64)} | ${cell(e.state, 20)} | ${cell(e.startedAt ?? "", 40)} | ${cell(e.finishedAt ?? "", 40)} | ${cell(e.title)} |`,
      );
    }
  }
  lines.push(TASK_BLOCK_END);
  return lines.join("\n");
}

/**
 * Puts `block` in place of the existing block (the last begin marker and the end marker
 * after it), or appends it; everything else in the file stays byte for byte.
 */
export function replaceTaskBlock(existing: string, block: string): string {
  const eol = existing.includes("\r\n") ? "\r\n" : "\n";
  const styled = eol === "\n" ? block : block.replace(/\n/g, eol);
  const begin = existing.lastIndexOf(TASK_BLOCK_BEGIN);
  const end = begin >= 0 ? existing.indexOf(TASK_BLOCK_END, begin) : -1;
  if (begin >= 0 && end >= 0) {
    return existing.slice(0, begin) + styled + existing.slice(end + TASK_BLOCK_END.length);
  }
  if (existing.trim() === "") return `${existing.startsWith("\uFEFF") ? "\uFEFF" : ""}${styled}${eol}`;
  const separator = existing.endsWith(eol + eol) ? "" : existing.endsWith(eol) ? eol : eol + eol;
  return `${existing}${separator}${styled}${eol}`;
}

/** Re-reads `tasks/shared-tasks.md` under its lock and rewrites only our block. */
export async function updateTaskBoard(
  layout: MailboxLayout,
  entries: readonly TaskBoardEntry[],
  lock: LockOptions,
  locale: Locale = DEFAULT_LOCALE,
): Promise<void> {
  await fs.mkdir(layout.tasksDir, { recursive: true });
  await withFileLock(layout.taskBoardFile, lock, async () => {
    let existing = "";
    try {
      existing = await fs.readFile(layout.taskBoardFile, { encoding: "utf8", flag: READ_NO_FOLLOW });
    } catch (error) {
      // A link would have us copy whatever it points at into the share, around our block.
      if (errnoCode(error) === "ELOOP") throw linkRefused(layout.taskBoardFile, error);
      if (errnoCode(error) !== "ENOENT") throw error;
    }
    const next = replaceTaskBlock(existing, renderTaskBlock(entries, locale));
    if (next !== existing) await writeFileAtomic(layout.taskBoardFile, next);
  });
}
