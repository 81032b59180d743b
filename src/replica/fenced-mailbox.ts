import type { Fence } from "../cluster/index.js";
import type { Envelope } from "../core/index.js";
import type {
  MailboxStore,
  NewEnvelope,
  NodeStatusSnapshot,
  TailRequest,
  Tailer,
  TaskBoardEntry,
} from "../mailbox/index.js";

/**
 * The shared folder as one role's holder may write it. A file write cannot be fenced inside
 * Redis, so the role's fence is checked by the local clock right before each write: a
 * replica that was paused past its lease (SIGSTOP, a long GC) and resumes in the middle of
 * an append finds its lease gone and writes nothing the role's next holder has written
 * already. Refused writes throw a `FENCED` error; the work stays in the shared outbox.
 */
export class FencedMailbox implements MailboxStore {
  constructor(
    private readonly mailbox: MailboxStore,
    /** The fence of the role that writes here now, if this replica holds it. */
    private readonly fence: () => Fence | undefined,
    /** The role, for the error. */
    private readonly role: string,
  ) {}

  get layout(): MailboxStore["layout"] {
    return this.mailbox.layout;
  }

  get self(): string {
    return this.mailbox.self;
  }

  ensureLayout(): Promise<void> {
    return this.mailbox.ensureLayout();
  }

  async append(envelope: NewEnvelope): Promise<Envelope> {
    this.check();
    return this.mailbox.append(envelope);
  }

  async appendMany(envelopes: readonly NewEnvelope[]): Promise<Envelope[]> {
    if (envelopes.length > 0) this.check();
    return this.mailbox.appendMany(envelopes);
  }

  containsRecentId(node: string, id: string): Promise<boolean> {
    return this.mailbox.containsRecentId(node, id);
  }

  tail(request: TailRequest): Promise<Tailer> {
    return this.mailbox.tail(request);
  }

  async writeStatus(status: Record<string, unknown>): Promise<void> {
    this.check();
    return this.mailbox.writeStatus(status);
  }

  readStatuses(): Promise<NodeStatusSnapshot[]> {
    return this.mailbox.readStatuses();
  }

  async updateTaskBoard(entries: readonly TaskBoardEntry[]): Promise<void> {
    this.check();
    return this.mailbox.updateTaskBoard(entries);
  }

  private check(): void {
    if (this.fence()?.held()) return;
    throw new Error(
      `FENCED shared folder: not written — this replica does not hold the ${this.role} role now`,
    );
  }
}
