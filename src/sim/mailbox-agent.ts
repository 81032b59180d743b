import { promises as fs } from "node:fs";
import {
  isValidNodeName,
  newId,
  silentLogger,
  type Envelope,
  type EnvelopeType,
  type Logger,
} from "../core/index.js";
import {
  FsMailboxStore,
  assertNodeName,
  decodeLine,
  inboxFileName,
  inboxPath,
  mailboxLayout,
  parseEnvelopeLine,
  type NewEnvelope,
} from "../mailbox/index.js";

export interface MailboxAgentOptions {
  /** The shared folder (the one holding `messages/`). */
  root: string;
  /** The agent's node name: it reads `messages/to-<node>.jsonl`. */
  node: string;
  /** The bridge's inbox name, where answers to people and to the bridge go (default "clawbridge"). */
  self?: string;
  /**
   * The answer's text; default a short scripted line naming the node. `undefined` leaves the
   * envelope unanswered (the demo's agent does not answer answers, or two agents that always
   * reply would talk forever).
   */
  answer?: (envelope: Envelope) => string | undefined | Promise<string | undefined>;
  /** Waits this long before answering each envelope (default 0). */
  delayMs?: number;
  /** How often the inbox's size is checked (default 100 ms). */
  pollMs?: number;
  /** Reads the lines already in the inbox too (default: only lines added after the start). */
  fromStart?: boolean;
  logger?: Logger;
}

export interface MailboxAgent {
  /** Stops polling; an answer being written is finished, one still waiting is dropped. */
  stop(): Promise<void>;
  /** How many answers it has written. */
  answered(): number;
}

const DEFAULT_POLL_MS = 100;
const NEWLINE = 0x0a;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The default answer: visible, short and scripted, in both languages. */
export function scriptedAnswer(node: string, envelope: Envelope): string {
  const head = Array.from(envelope.content.replace(/\s+/g, " ").trim()).slice(0, 40).join("");
  return `${node} 已处理 / handled: ${head}`;
}

/**
 * A stand-in for a seed agent on a mailbox-only node (one without a gateway, like
 * "nas-agent"): it polls its own inbox as the seed's agents do and answers every envelope
 * addressed to it — once — through the same locked appender the bridge uses, so its lines
 * never interleave with the bridge's. Answers to people and to the bridge go to the
 * bridge's inbox, others to the sender's. For demos and tests; never part of the bridge.
 */
export async function startMailboxAgent(options: MailboxAgentOptions): Promise<MailboxAgent> {
  const agent = new MailboxAgentLoop(options);
  await agent.start();
  return agent;
}

class MailboxAgentLoop implements MailboxAgent {
  private readonly node: string;
  private readonly self: string;
  private readonly inbox: string;
  private readonly inboxName: string;
  private readonly store: FsMailboxStore;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly delayMs: number;
  /** Bytes of the inbox read so far, and the start of a line not yet ended by "\n". */
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private count = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> = Promise.resolve();
  private wakeDelay: (() => void) | undefined;

  constructor(private readonly options: MailboxAgentOptions) {
    this.node = options.node;
    this.self = options.self ?? "clawbridge";
    this.log = (options.logger ?? silentLogger()).child({ component: "mailbox-agent", node: this.node });
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.delayMs = options.delayMs ?? 0;
    // The store checks both names; `append` never touches its state dir.
    this.store = new FsMailboxStore({ root: options.root, self: this.node, stateDir: options.root });
    assertNodeName(this.self, "self");
    const layout = mailboxLayout(options.root);
    this.inbox = inboxPath(layout, this.node);
    this.inboxName = inboxFileName(this.node);
  }

  async start(): Promise<void> {
    await this.store.ensureLayout();
    if (!this.options.fromStart) this.offset = await endOfLastLine(this.inbox);
    this.schedule(0);
  }

  answered(): number {
    return this.count;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wakeDelay?.();
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.poll().finally(() => this.schedule(this.pollMs));
    }, ms);
  }

  /** Reads what was added since the last look and answers each new whole line, in order. */
  private async poll(): Promise<void> {
    let lines: Buffer[];
    try {
      lines = await this.readNewLines();
    } catch (error) {
      this.log.warn({ err: error }, "could not read the inbox; trying again");
      return;
    }
    for (const bytes of lines) {
      if (this.stopped) return;
      const envelope = this.envelopeOf(bytes);
      if (envelope) await this.answer(envelope);
    }
  }

  private async readNewLines(): Promise<Buffer[]> {
    const size = await fs.stat(this.inbox).then(
      (stat) => stat.size,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return 0;
        throw error;
      },
    );
    if (size < this.offset) {
      // Replaced or truncated: whatever it holds now is new.
      this.offset = 0;
      this.partial = Buffer.alloc(0);
    }
    if (size === this.offset) return [];
    const chunk = await readRange(this.inbox, this.offset, size);
    const fromFileStart = this.offset === 0;
    this.offset += chunk.length;
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    if (fromFileStart && data.subarray(0, 3).equals(UTF8_BOM)) data = data.subarray(3);
    const lines: Buffer[] = [];
    let start = 0;
    for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, start)) {
      lines.push(data.subarray(start, end));
      start = end + 1;
    }
    this.partial = Buffer.from(data.subarray(start));
    return lines;
  }

  /** The envelope on this line when it is one to answer: addressed here, not ours, not delivered. */
  private envelopeOf(bytes: Buffer): Envelope | undefined {
    const decoded = decodeLine(bytes);
    if ("error" in decoded) return undefined;
    const parsed = parseEnvelopeLine(decoded.text, this.inboxName);
    if (parsed.kind !== "envelope") return undefined;
    const { envelope } = parsed;
    if (envelope.to !== this.node || envelope.from === this.node || envelope.delivered !== undefined)
      return undefined;
    return envelope;
  }

  private async answer(envelope: Envelope): Promise<void> {
    try {
      const content = await (this.options.answer ?? ((e: Envelope) => scriptedAnswer(this.node, e)))(
        envelope,
      );
      // An envelope left unanswered costs no thinking time.
      if (this.stopped || content === undefined) return;
      await this.delay();
      if (this.stopped) return;
      await this.store.append(this.reply(envelope, content));
      this.count++;
    } catch (error) {
      this.log.error({ err: error, id: envelope.id }, "could not answer an envelope");
    }
  }

  private reply(envelope: Envelope, content: string): NewEnvelope {
    const toBridge = envelope.from.startsWith("user:") || envelope.from === this.self;
    // A sender that is no node name has no inbox of its own: the bridge gets the answer.
    const to = toBridge || !isValidNodeName(envelope.from) ? this.self : envelope.from;
    const type: EnvelopeType = envelope.type === "task" ? "result" : "message";
    return {
      from: this.node,
      to,
      type,
      content,
      id: newId(),
      // Seed lines carry no id: this is the one the bridge derives for them too.
      replyTo: envelope.id,
      ...(envelope.taskId !== undefined ? { taskId: envelope.taskId } : {}),
    };
  }

  private delay(): Promise<void> {
    if (this.delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeDelay = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.delayMs);
      this.wakeDelay = done;
    });
  }
}

async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  const handle = await fs.open(file, "r");
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Where the inbox's last whole line ends: a line still being written counts as new. */
async function endOfLastLine(file: string): Promise<number> {
  const size = await fs.stat(file).then(
    (stat) => stat.size,
    () => 0,
  );
  const step = 64 * 1024;
  for (let end = size; end > 0; end -= step) {
    const start = Math.max(0, end - step);
    const chunk = await readRange(file, start, end);
    const at = chunk.lastIndexOf(NEWLINE);
    if (at !== -1) return start + at + 1;
  }
  return 0;
}
