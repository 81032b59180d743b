import { appendFileSync, promises as fs } from "node:fs";
import { dropTornTail } from "./torn-tail.js";
import { writeFileAtomic } from "../../src/core/index.js";
import type { DeliveredEntry, InboxCheckpoint, InboxMemory, TailLedger } from "../../src/mailbox/index.js";

/**
 * A consumer that records what it received together with the position in one write: the
 * pattern that gives exactly-once across SIGKILL (the relay's outbox does the same). The
 * sink holds one `{"id","inbox","end"}` line per envelope delivered.
 */
export class SinkLedger implements TailLedger {
  private readonly checkpoints = new Map<string, InboxCheckpoint>();

  constructor(
    private readonly sinkFile: string,
    private readonly cursorsFile: string,
  ) {}

  async load(): Promise<Map<string, InboxMemory>> {
    const result = new Map<string, InboxMemory>();
    const entry = (inbox: string) => {
      let memory = result.get(inbox);
      if (!memory) result.set(inbox, (memory = { deliveredIds: [], deliveredEnd: 0 }));
      return memory;
    };
    const cursors = await fs.readFile(this.cursorsFile, "utf8").then(JSON.parse, () => ({}));
    for (const [inbox, checkpoint] of Object.entries(cursors as Record<string, InboxCheckpoint>)) {
      this.checkpoints.set(inbox, checkpoint);
      entry(inbox).checkpoint = checkpoint;
    }
    const text = await dropTornTail(this.sinkFile);
    for (const line of text.split("\n")) {
      if (!line) continue;
      const record = JSON.parse(line) as { id?: string; inbox: string; end?: number; rotated?: boolean };
      const memory = entry(record.inbox);
      if (record.rotated) memory.deliveredEnd = 0;
      else {
        memory.deliveredIds.push(record.id!);
        memory.deliveredEnd = Math.max(memory.deliveredEnd, record.end!);
      }
    }
    return result;
  }

  async recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void> {
    if (entries.length === 0) return;
    appendFileSync(
      this.sinkFile,
      entries.map((e) => `${JSON.stringify({ id: e.id, inbox, end: e.end })}\n`).join(""),
    );
  }

  async recordRotation(inbox: string): Promise<void> {
    appendFileSync(this.sinkFile, `${JSON.stringify({ inbox, rotated: true })}\n`);
  }

  async saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void> {
    this.checkpoints.set(inbox, checkpoint);
    await writeFileAtomic(this.cursorsFile, JSON.stringify(Object.fromEntries(this.checkpoints)));
  }

  async close(): Promise<void> {}
}
