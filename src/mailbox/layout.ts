import { constants as fsConstants, promises as fs } from "node:fs";
import path from "node:path";
import { ClawbridgeError, errnoCode, isValidNodeName } from "../core/index.js";
import { mailboxMessages as t } from "./messages.js";

/** The seed's folder layout under the shared root. */
export interface MailboxLayout {
  root: string;
  messagesDir: string;
  tasksDir: string;
  statusDir: string;
  taskBoardFile: string;
}

export function mailboxLayout(root: string): MailboxLayout {
  const resolved = path.resolve(root);
  return {
    root: resolved,
    messagesDir: path.join(resolved, "messages"),
    tasksDir: path.join(resolved, "tasks"),
    statusDir: path.join(resolved, "status"),
    taskBoardFile: path.join(resolved, "tasks", "shared-tasks.md"),
  };
}

/** Rejects anything that is not a plain node name, so no name can reach outside the root. */
export function assertNodeName(name: string, role = "node"): void {
  if (!isValidNodeName(name)) {
    throw new ClawbridgeError(
      "CB_MAILBOX_INVALID_NODE",
      t.text("invalidNode", { role, name: JSON.stringify(name) }),
      { fix: t.text("invalidNodeFix"), expose: true, details: { name, role } },
    );
  }
}

const INBOX_FILE = /^to-(.+)\.jsonl$/;

export function inboxFileName(node: string): string {
  assertNodeName(node);
  return `to-${node}.jsonl`;
}

export function inboxPath(layout: MailboxLayout, node: string): string {
  return path.join(layout.messagesDir, inboxFileName(node));
}

/** `to-ai-pc.jsonl` → `ai-pc`; anything else (temp files, locks, bad names) → undefined. */
export function nodeOfInboxFile(fileName: string): string | undefined {
  const match = INBOX_FILE.exec(fileName);
  const node = match?.[1];
  return node !== undefined && isValidNodeName(node) ? node : undefined;
}

export function statusPath(layout: MailboxLayout, node: string): string {
  assertNodeName(node);
  return path.join(layout.statusDir, `${node}.json`);
}

/**
 * Opens a mailbox file for reading without following a symbolic link (ELOOP instead): every
 * agent can write the share, and a link planted there must not make the bridge read a file
 * outside it — nor copy it back into the share (the task board keeps what surrounds its
 * block). Windows has no O_NOFOLLOW; links there need privileges agents do not have.
 */
export const READ_NO_FOLLOW = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0);

/** Refuses to write a mailbox file through a symbolic link (see `READ_NO_FOLLOW`). */
export async function assertNotLink(file: string): Promise<void> {
  const stat = await fs.lstat(file).catch((error: unknown) => {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  });
  if (stat?.isSymbolicLink()) throw linkRefused(file);
}

export function linkRefused(file: string, cause?: unknown): ClawbridgeError<"CB_MAILBOX_IO"> {
  return new ClawbridgeError("CB_MAILBOX_IO", t.text("linkRefused", { file }), {
    fix: t.text("linkRefusedFix"),
    details: { file, errno: "ELOOP" },
    cause,
  });
}

/** Creates the folders on first use; the root itself must exist (a missing share is an error, not a folder to create). */
export async function ensureLayout(layout: MailboxLayout): Promise<void> {
  const isFolder = await fs.stat(layout.root).then(
    (stat) => ({ ok: stat.isDirectory(), cause: undefined as unknown }),
    (cause: unknown) => ({ ok: false, cause }),
  );
  if (!isFolder.ok) {
    throw new ClawbridgeError("CB_MAILBOX_ROOT_MISSING", t.text("rootMissing", { root: layout.root }), {
      fix: t.text("rootMissingFix"),
      details: { root: layout.root },
      cause: isFolder.cause,
    });
  }
  await Promise.all(
    [layout.messagesDir, layout.tasksDir, layout.statusDir].map((dir) => fs.mkdir(dir, { recursive: true })),
  );
}
