/**
 * What the tailer remembers between runs, per inbox file: where it stopped reading (the
 * checkpoint) and which envelopes it already handed on (the delivered log). The delivered
 * log is what makes restarts exact: lines below the checkpoint are read again after a
 * crash, and the ids tell which of them were already delivered.
 *
 * A consumer that needs exactly-once across a crash of the process implements this
 * interface itself and records `recordDelivered` together with its own effect in one
 * write (the relay does it with its outbox); `FileTailLedger` is the default.
 */
export interface InboxCheckpoint {
  /** Next byte to read: always just after a newline. */
  offset: number;
  /** sha256 (hex) of the file's first `headLength` bytes, to notice a replaced file. */
  headHash?: string;
  headLength?: number;
}

export interface DeliveredEntry {
  id: string;
  /** Byte offset just after the envelope's line. */
  end: number;
}

export interface InboxMemory {
  checkpoint?: InboxCheckpoint;
  /** Recent delivered ids, oldest first (bounded). */
  deliveredIds: string[];
  /** Furthest `end` delivered since the file was last found rotated; 0 if none. */
  deliveredEnd: number;
}

export interface TailLedger {
  load(): Promise<Map<string, InboxMemory>>;
  /** Called once the handler has taken these envelopes, in file order. */
  recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void>;
  /** The file was rotated: offsets recorded so far no longer apply (ids still do). */
  recordRotation(inbox: string): Promise<void>;
  saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void>;
  close(): Promise<void>;
}

/** Keeps everything in memory: for `clawbridge tail` and other viewers that must not move the bridge's cursors. */
export class MemoryTailLedger implements TailLedger {
  private readonly inboxes = new Map<string, InboxMemory>();

  async load(): Promise<Map<string, InboxMemory>> {
    return new Map(
      [...this.inboxes].map(([name, memory]) => [
        name,
        { ...memory, deliveredIds: [...memory.deliveredIds] },
      ]),
    );
  }

  private entry(inbox: string): InboxMemory {
    let memory = this.inboxes.get(inbox);
    if (!memory) {
      memory = { deliveredIds: [], deliveredEnd: 0 };
      this.inboxes.set(inbox, memory);
    }
    return memory;
  }

  async recordDelivered(inbox: string, entries: readonly DeliveredEntry[]): Promise<void> {
    const memory = this.entry(inbox);
    for (const entry of entries) {
      memory.deliveredIds.push(entry.id);
      memory.deliveredEnd = Math.max(memory.deliveredEnd, entry.end);
    }
  }

  async recordRotation(inbox: string): Promise<void> {
    this.entry(inbox).deliveredEnd = 0;
  }

  async saveCheckpoint(inbox: string, checkpoint: InboxCheckpoint): Promise<void> {
    this.entry(inbox).checkpoint = { ...checkpoint };
  }

  async close(): Promise<void> {}
}
