import { randomBytes } from "node:crypto";
import { promises as fs, type Dirent } from "node:fs";
import path from "node:path";

/**
 * Writes a whole file so that readers see either the old or the new content, never half
 * of it, and a crash leaves the old one: write a temp file beside it, fsync, rename.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  const handle = await fs.open(temp, "w", options.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    // A write that failed (a full disk) must not leave its temp file taking up the space.
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** `.<name>.<pid>.<8 hex>.tmp`: the temp file `writeFileAtomic` writes beside its target. */
const TEMP_FILE = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temp files of atomic writes that were cut short (a crash between writing and
 * renaming leaves `.<name>.<pid>.<hex>.tmp` behind), in `dir` and its sub-folders. A temp
 * file is left alone while the process that wrote it may still be writing it: `isAbandoned`
 * decides (the state folder: its pid is gone; a shared folder: it is old). Returns the
 * files removed.
 */
export async function removeAbandonedTempFiles(
  dir: string,
  isAbandoned: (info: { pid: number; mtimeMs: number }) => boolean,
): Promise<string[]> {
  const removed: string[] = [];
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return removed; // Missing or unreadable: nothing to clean.
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      removed.push(...(await removeAbandonedTempFiles(full, isAbandoned)));
      continue;
    }
    const match = TEMP_FILE.exec(entry.name);
    if (!match || !entry.isFile()) continue;
    const stat = await fs.stat(full).catch(() => undefined);
    if (!stat || !isAbandoned({ pid: Number(match[1]), mtimeMs: stat.mtimeMs })) continue;
    await fs.rm(full, { force: true });
    removed.push(full);
  }
  return removed;
}

/**
 * Creates `file` with `body` only if it does not exist yet (O_EXCL): false when it does.
 * The building block of every lock and lease file; other errors are thrown as they are.
 */
export async function createFileExclusive(file: string, body: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
  } catch (error) {
    // Created but not written (a full disk): an empty lock would read as held by nobody.
    await fs.rm(file, { force: true }).catch(() => undefined);
    throw error;
  }
  return true;
}
