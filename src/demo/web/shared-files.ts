import { promises as fs } from "node:fs";
import path from "node:path";

/** The files the panel shows: inboxes, the task board, status files — nothing else. */
export const SHARED_FILE =
  /^(?:messages\/[^/\\]{1,200}\.jsonl|tasks\/shared-tasks\.md|status\/[^/\\]{1,200}\.json)$/;

const FOLDERS = ["messages", "tasks", "status"] as const;
/** Enough to show the end of a busy inbox; a tail never reads more than this from a file. */
const TAIL_WINDOW_BYTES = 128 * 1024;
/** One line of a tail at most this many characters (a 1 MiB line must not reach the page whole). */
const LINE_CHARS = 2_000;
export const DEFAULT_TAIL_LINES = 60;
export const MAX_TAIL_LINES = 500;

export interface SharedFileInfo {
  /** Relative to the shared folder, with `/`. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SharedFileTail extends SharedFileInfo {
  /** The last lines, oldest first. */
  lines: string[];
  /** Earlier lines exist that are not shown. */
  truncated: boolean;
}

/** Whether a relative path names a file the panel may show (no `..`, no other folders). */
export function isSharedFile(rel: string): boolean {
  return SHARED_FILE.test(rel) && !rel.split("/").some((part) => part === "." || part === "..");
}

/** Every file the panel shows, inboxes first, each folder sorted by name; missing folders are empty. */
export async function listSharedFiles(root: string): Promise<SharedFileInfo[]> {
  const out: SharedFileInfo[] = [];
  for (const folder of FOLDERS) {
    let names: string[];
    try {
      names = await fs.readdir(path.join(root, folder));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const rel = `${folder}/${name}`;
      if (!isSharedFile(rel)) continue;
      const info = await statFile(root, rel);
      if (info) out.push(info);
    }
  }
  return out;
}

/** The last `lines` lines of one shared file; undefined when it does not exist (or is not a file). */
export async function tailSharedFile(
  root: string,
  rel: string,
  lines = DEFAULT_TAIL_LINES,
): Promise<SharedFileTail | undefined> {
  if (!isSharedFile(rel) || !(await staysInside(root, rel))) return undefined;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path.join(root, rel), "r");
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return undefined;
    const start = Math.max(0, stat.size - TAIL_WINDOW_BYTES);
    const buffer = Buffer.alloc(stat.size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    let text = buffer.subarray(0, bytesRead).toString("utf8");
    // A window that starts inside a line shows it from its next line on.
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    const all = text.split(/\r?\n/);
    if (all.at(-1) === "") all.pop();
    const shown = all
      .slice(-lines)
      .map((line) => (line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}…` : line));
    return {
      path: rel,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      lines: shown,
      truncated: start > 0 || all.length > shown.length,
    };
  } finally {
    await handle.close();
  }
}

async function statFile(root: string, rel: string): Promise<SharedFileInfo | undefined> {
  try {
    const stat = await fs.stat(path.join(root, rel));
    return stat.isFile() ? { path: rel, size: stat.size, mtimeMs: stat.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/** A link inside the shared folder must not show the page a file from elsewhere on the machine. */
async function staysInside(root: string, rel: string): Promise<boolean> {
  try {
    const [base, real] = await Promise.all([fs.realpath(root), fs.realpath(path.join(root, rel))]);
    return real.startsWith(base + path.sep);
  } catch {
    return false;
  }
}
