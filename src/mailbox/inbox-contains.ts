import { promises as fs } from "node:fs";
import { inboxPath, READ_NO_FOLLOW, type MailboxLayout } from "./layout.js";

/** How far back from the end of an inbox a replayed append looks for itself. */
const LOOK_BACK_BYTES = 4 * 1024 * 1024;

/**
 * Whether `to-<node>.jsonl` already holds a line with this id near its end. An append that
 * was written just before a crash, but not yet marked done, is replayed after the restart;
 * this keeps it from being written twice. Only replayed appends pay for the look.
 */
export async function inboxContainsId(layout: MailboxLayout, node: string, id: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(inboxPath(layout, node), READ_NO_FOLLOW);
    const { size } = await handle.stat();
    const start = Math.max(0, size - LOOK_BACK_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.includes(`"id":${JSON.stringify(id)}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  } finally {
    await handle?.close();
  }
}
