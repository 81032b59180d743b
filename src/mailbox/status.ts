import { promises as fs } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../core/index.js";
import { assertNodeName, READ_NO_FOLLOW, statusPath, type MailboxLayout } from "./layout.js";

/** What a status file says, as far as clawbridge needs to know. */
export interface NodeStatusSnapshot {
  node: string;
  /** When the node last wrote its status: its `updatedAt` (or `timestamp`) field, else the file's mtime. */
  updatedAt: number;
  /** The node's own reporting interval, when it says (`intervalMs`), for liveness. */
  intervalMs?: number;
  /** The parsed file (any shape: agents write what they like). */
  raw: Record<string, unknown>;
  /** Set when the file could not be parsed; `updatedAt` is then the mtime. */
  error?: string;
}

/** Writes `status/<self>.json` atomically: readers never see half a file. */
export async function writeOwnStatus(
  layout: MailboxLayout,
  self: string,
  status: Record<string, unknown>,
): Promise<void> {
  assertNodeName(self);
  await writeFileAtomic(statusPath(layout, self), `${JSON.stringify(status, null, 2)}\n`);
}

/** Reads every `status/*.json`; a broken file is reported with its error, never thrown. */
export async function readStatuses(layout: MailboxLayout): Promise<NodeStatusSnapshot[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.statusDir);
  } catch {
    return [];
  }
  const snapshots: NodeStatusSnapshot[] = [];
  for (const name of names) {
    if (!name.endsWith(".json") || name.startsWith(".")) continue;
    const node = name.slice(0, -".json".length);
    const file = path.join(layout.statusDir, name);
    try {
      const [text, stat] = await Promise.all([
        fs.readFile(file, { encoding: "utf8", flag: READ_NO_FOLLOW }),
        fs.lstat(file),
      ]);
      snapshots.push(parseStatus(node, text.replace(/^\uFEFF/, ""), stat.mtimeMs));
    } catch {
      // Vanished between listing and reading, or a link (never followed out of the share).
    }
  }
  return snapshots;
}

function parseStatus(node: string, text: string, mtimeMs: number): NodeStatusSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { node, updatedAt: mtimeMs, raw: {}, error: `invalid JSON: ${(error as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { node, updatedAt: mtimeMs, raw: {}, error: "not a JSON object" };
  }
  const record = raw as Record<string, unknown>;
  const stated = [record.updatedAt, record.timestamp, record.lastSeen]
    .map((value) => (typeof value === "string" ? Date.parse(value) : typeof value === "number" ? value : NaN))
    .find((value) => Number.isFinite(value));
  const intervalMs =
    typeof record.intervalMs === "number" && record.intervalMs > 0 ? record.intervalMs : undefined;
  return { node, updatedAt: stated ?? mtimeMs, intervalMs, raw: record };
}
