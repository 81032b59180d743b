import { promises as fs } from "node:fs";
import path from "node:path";
import {
  Journal,
  JOURNAL_FORMATS,
  silentLogger,
  stateIoError,
  writeFileAtomic,
  type Logger,
} from "../core/index.js";
import type { DeliveredEntry, InboxCheckpoint, InboxMemory, TailLedger } from "./tail-ledger.js";

const ROTATION_MARK = "- rotated";

export interface FileTailLedgerOptions {
  /** Recent delivered entries kept per inbox; default 10,000. */
  keepIds?: number;
  logger?: Logger;
}

/** One inbox's delivered log: its journal and the recent lines a rewrite keeps. */
interface DeliveredLog {
  journal: Journal;
  recent: string[];
}

/**
 * The default ledger, under `state.dir/mailbox/`: `cursors.json` (all checkpoints, written
 * atomically) and `delivered/<inbox>.log`, a journal of `<id> <end>` lines and rotation
 * marks per inbox, compacted to the most recent `keepIds` entries so it stays bounded.
 */
export class FileTailLedger implements TailLedger {
  private readonly dir: string;
  private readonly cursorsFile: string;
  private readonly keepIds: number;
  private readonly log: Logger;
  private readonly checkpoints = new Map<string, InboxCheckpoint>();
  private readonly logs = new Map<string, DeliveredLog>();
  private cursorsDirty = false;
  private cursorWrite: Promise<void> = Promise.resolve();

  constructor(stateDir: string, options: FileTailLedgerOptions = {}) {
    this.dir = path.join(stateDir, "mailbox");
    this.cursorsFile = path.join(this.dir, "cursors.json");
    this.keepIds = options.keepIds ?? 10_000;
    this.log = (options.logger ?? silentLogger()).child({ component: "mailbox.ledger" });
  }

  async load(): Promise<Map<string, InboxMemory>> {
    await fs.mkdir(path.join(this.dir, "delivered"), { recursive: true }).catch((error: unknown) => {
      throw stateIoError(this.dir, error);
    });
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
      const { lines } = await this.deliveredLog(inbox).journal.load();
      for (const line of lines) {
        if (line === ROTATION_MARK) {
          memory.deliveredEnd = 0;
          continue;
        }
        const entry = parseEntry(line);
        if (!entry) continue;
        memory.deliveredIds.push(entry.id);
        memory.deliveredEnd = Math.max(memory.deliveredEnd, entry.end);
      }
      if (memory.deliveredIds.length > this.keepIds) {
        memory.deliveredIds = memory.deliveredIds.slice(-this.keepIds);
      }
      this.remember(inbox, lines);
      result.set(inbox, memory);
    }
    return result;
  }

  async recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.write(
      inbox,
      entries.map((entry) => `${entry.id} ${entry.end}`),
    );
  }

  async recordRotation(inbox: string): Promise<void> {
    await this.write(inbox, [ROTATION_MARK]);
  }

  async saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void> {
    this.checkpoints.set(inbox, { ...checkpoint });
    this.cursorsDirty = true;
    // Serialised, and coalesced: a burst of saves becomes one or two writes.
    this.cursorWrite = this.cursorWrite.then(() => this.writeCursors());
    await this.cursorWrite;
  }

  async close(): Promise<void> {
    await this.cursorWrite;
    await Promise.all([...this.logs.values()].map((log) => log.journal.close()));
  }

  private async write(inbox: string, lines: string[]): Promise<void> {
    const log = this.deliveredLog(inbox);
    // A log first written now (a new inbox) starts with its header.
    await log.journal.load();
    // One entry for the whole chunk: a cold read hands over thousands of lines at a time.
    await log.journal.append({
      line: lines.join("\n"),
      records: lines.length,
      apply: () => this.remember(inbox, lines),
    });
  }

  private deliveredLog(inbox: string): DeliveredLog {
    let log = this.logs.get(inbox);
    if (!log) {
      const recent: string[] = [];
      const journal = new Journal({
        file: path.join(this.dir, "delivered", `${inbox}.log`),
        kind: "delivered",
        version: JOURNAL_FORMATS["delivered"],
        logger: this.log,
        snapshot: () => recent.slice(-this.keepIds),
        // Compacting rewrites the file: let it grow to ten times what is kept, so that is rare.
        shouldCompact: (stats) => stats.lines > this.keepIds * 10,
      });
      log = { journal, recent };
      this.logs.set(inbox, log);
    }
    return log;
  }

  /** Keeps the newest lines in memory for a rewrite; trimmed in steps, not per line. */
  private remember(inbox: string, lines: readonly string[]): void {
    const log = this.deliveredLog(inbox);
    log.recent.push(...lines);
    if (log.recent.length > 2 * this.keepIds) log.recent.splice(0, log.recent.length - this.keepIds);
  }

  private async writeCursors(): Promise<void> {
    if (!this.cursorsDirty) return;
    this.cursorsDirty = false;
    await writeFileAtomic(this.cursorsFile, JSON.stringify(Object.fromEntries(this.checkpoints)));
  }
}

function parseEntry(line: string): DeliveredEntry | undefined {
  const space = line.lastIndexOf(" ");
  if (space <= 0) return undefined;
  const end = Number(line.slice(space + 1));
  return Number.isFinite(end) ? { id: line.slice(0, space), end } : undefined;
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
