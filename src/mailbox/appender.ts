import { ClawbridgeError } from "../core/index.js";
import { appendUnderLock, type LockOptions } from "./file-lock.js";
import { assertNotLink } from "./layout.js";
import { mailboxMessages as t } from "./messages.js";

/**
 * Appends whole lines to a mailbox file under its lock, all in one write. If the file does
 * not end with a newline (a writer died mid-line), a newline goes first, so the fragment
 * becomes a line of its own that readers quarantine, and ours stay intact.
 */
export async function appendLines(
  file: string,
  lines: readonly string[],
  lock: LockOptions,
  unlessIds?: string[],
): Promise<void> {
  if (lines.length === 0) return;
  for (const line of lines) {
    if (line.includes("\n") || line.includes("\r"))
      throw new ClawbridgeError("CB_MAILBOX_INVALID_ENVELOPE", t.text("lineBreak"), {
        fix: t.text("lineBreakFix"),
      });
  }
  await assertNotLink(file);
  await appendUnderLock(file, lines.join("\n"), lock, unlessIds);
}
