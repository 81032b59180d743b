import { promises as fs } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../core/index.js";
import type { DeliveredEntry, InboxCheckpoint, InboxMemory, TailLedger } from "./tail-ledger.js";

const ROTATION_MARK = "- rotated";

/**
 * The default ledger, under `state.dir/mailbox/`: `cursors.json` (all checkpoints, written
 * atomically) and `delivered/<inbox>.log` (append-only `<id> <end>` lines, compacted to the
 * most recent `keepIds` entries so it stays bounded).
 */
export class FileTailLedger implements TailLedger {
  private readonly dir: string;
  private readonly cursorsFile: string;
  private readonly checkpoints = new Map<string, InboxCheckpoint>();
  private readonly logLines = new Map<string, number>();
  private cursorsDirty = false;
  private cursorWrite: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly keepIds = 10_000,
  ) {
    this.dir = path.join(stateDir, "mailbox");
    this.cursorsFile = path.join(this.dir, "cursors.json");
  }

  private logFile(inbox: string): string {
    return path.join(this.dir, "delivered", `${inbox}.log`);
  }

  async load(): Promise<Map<string, InboxMemory>> {
    await fs.mkdir(path.join(this.dir, "delivered"), { recursive: true });
    const result = new Map<string, InboxMemory>();
    const cursors = await readJson(this.cursorsFile);
    for (const [inbox, value] of Object.entries(cursors)) {
      const checkpoint = value as InboxCheckpoint;
      if (typeof checkpoint?.offset !== "number") continue;
      this.checkpoints.set(inbox, checkpoint);
      result.set(inbox, { checkpoint, deliveredIds: [], deliveredEnd: 0 });
    }
    for (const name of await fs.readdir(path.join(this.dir, "delivered"))) {
      if (!name.endsWith(".log")) continue;
      const inbox = name.slice(0, -".log".length);
      const memory = result.get(inbox) ?? { deliveredIds: [], deliveredEnd: 0 };
      const lines = (await fs.readFile(this.logFile(inbox), "utf8")).split("\n");
      let count = 0;
      for (const line of lines) {
        if (line === ROTATION_MARK) {
          memory.deliveredEnd = 0;
          continue;
        }
        const space = line.indexOf(" ");
        if (space <= 0) continue; // a torn last line from a crash: the envelope is re-read and re-delivered
        const end = Number(line.slice(space + 1));
        if (!Number.isFinite(end)) continue;
        memory.deliveredIds.push(line.slice(0, space));
        memory.deliveredEnd = Math.max(memory.deliveredEnd, end);
        count++;
      }
      if (memory.deliveredIds.length > this.keepIds) {
        memory.deliveredIds = memory.deliveredIds.slice(-this.keepIds);
      }
      this.logLines.set(inbox, count);
      result.set(inbox, memory);
    }
    return result;
  }

  async recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void> {
    if (entries.length === 0) return;
    let text = "";
    for (const entry of entries) text += `${entry.id} ${entry.end}\n`;
    await fs.appendFile(this.logFile(inbox), text);
    const lines = (this.logLines.get(inbox) ?? 0) + entries.length;
    this.logLines.set(inbox, lines);
    // Compacting rewrites the file: let it grow to ten times what is kept, so that is rare.
    if (lines > this.keepIds * 10) await this.compact(inbox);
  }

  async recordRotation(inbox: string): Promise<void> {
    await fs.appendFile(this.logFile(inbox), `${ROTATION_MARK}\n`);
  }

  /** Keeps the newest `keepIds` entries; a rotation mark among them stays where it was. */
  private async compact(inbox: string): Promise<void> {
    const lines = (await fs.readFile(this.logFile(inbox), "utf8")).split("\n").filter((l) => l !== "");
    const kept = lines.slice(-this.keepIds);
    await writeFileAtomic(this.logFile(inbox), `${kept.join("\n")}\n`);
    this.logLines.set(inbox, kept.length);
  }

  async saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void> {
    this.checkpoints.set(inbox, { ...checkpoint });
    this.cursorsDirty = true;
    // Serialised, and coalesced: a burst of saves becomes one or two writes.
    this.cursorWrite = this.cursorWrite.then(() => this.writeCursors());
    await this.cursorWrite;
  }

  private async writeCursors(): Promise<void> {
    if (!this.cursorsDirty) return;
    this.cursorsDirty = false;
    await writeFileAtomic(this.cursorsFile, JSON.stringify(Object.fromEntries(this.checkpoints)));
  }

  async close(): Promise<void> {
    await this.cursorWrite;
  }
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(await fs.readFile(file, "utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    // Missing (first start) or unreadable: start over; the delivered log still prevents repeats.
    return {};
  }
}
