import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isProcessAlive, parseLockRecord, STATE_LOCK_FILE, type LockRecord } from "../../core/index.js";

/**
 * The bridge holding the state folder, when one runs on this machine: read from its state
 * lock without taking it, so `doctor` and `state retry` never get in a running bridge's way.
 * A lock written on another host, or by a pid that is gone, is a leftover, not a bridge.
 */
export async function runningBridge(stateDir: string): Promise<LockRecord | undefined> {
  const text = await fs.readFile(path.join(stateDir, STATE_LOCK_FILE), "utf8").catch(() => undefined);
  const holder = text === undefined ? undefined : parseLockRecord(text);
  return holder && holder.host === os.hostname() && isProcessAlive(holder.pid) ? holder : undefined;
}

/** A path as one shell word, for the commands doctor suggests (state folders may hold spaces). */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
