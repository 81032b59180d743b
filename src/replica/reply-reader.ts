import { connectionName, errorText, parseStreamsReply } from "../cluster/index.js";
import type { Redis } from "ioredis";
import type { RedisStore } from "../cluster/index.js";
import { backoffDelay, type Logger } from "../core/index.js";
import { parseReplyEntry, type ReplyEntry } from "./gateway-wire.js";

/** One reply stream being followed. */
export interface ReplySubscription {
  key: string;
  /** Every entry, in stream order; unreadable ones are logged and skipped. */
  onEntry: (entry: ReplyEntry) => void;
}

interface Followed extends ReplySubscription {
  /** The last entry id read: "0" first, so nothing written before the first read is missed. */
  lastId: string;
}

const BLOCK_MS = 1_000;
const COUNT = 500;
const RETRY_BACKOFF = { baseMs: 100, maxMs: 5_000, factor: 2, jitter: 0.3 };
/** A wake-up sent just before the read reached Redis unblocks nothing: tried again this often. */
const UNBLOCK_TRIES = 5;
const UNBLOCK_RETRY_MS = 20;

/**
 * Follows every reply stream one client waits on with one `XREAD BLOCK` on its own
 * connection. A stream added while the read is blocked wakes it (`CLIENT UNBLOCK` from the
 * store's main connection), so the first answer is not a whole block late.
 */
export class ReplyReader {
  private readonly followed = new Map<string, Followed>();
  private connection: Redis | undefined;
  private connectionId: number | undefined;
  /** Bumped per read: a wake-up is for the read in flight only. */
  private reading = 0;
  private blocked = false;
  private running = false;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly store: RedisStore,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Follows `subscription.key` from its start; returns the function that stops following it. */
  follow(subscription: ReplySubscription): () => void {
    this.closed = false; // a client started again after `stop()` reads again
    const followed: Followed = { ...subscription, lastId: "0" };
    this.followed.set(subscription.key, followed);
    this.ensureRunning();
    this.wake();
    return () => {
      if (this.followed.get(subscription.key) === followed) this.followed.delete(subscription.key);
    };
  }

  /** Stops reading (the connection goes); a later `follow` opens a new one. */
  close(): void {
    this.closed = true;
    this.followed.clear();
    this.idle?.();
    this.connection?.disconnect();
    this.connection = undefined;
  }

  private ensureRunning(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.loop().finally(() => (this.running = false));
  }

  private wake(): void {
    if (this.idle) return this.idle();
    if (!this.blocked || this.connectionId === undefined) return;
    const read = this.reading;
    const id = this.connectionId;
    void (async () => {
      for (let attempt = 0; attempt < UNBLOCK_TRIES; attempt++) {
        if (this.closed || !this.blocked || this.reading !== read) return;
        const unblocked = await this.store.client.call("CLIENT", "UNBLOCK", id).catch(() => 0);
        if (unblocked === 1) return;
        await new Promise((resolve) => setTimeout(resolve, UNBLOCK_RETRY_MS));
      }
    })();
  }

  private open(): Redis {
    if (this.connection) return this.connection;
    const connection = this.store.duplicate(connectionName(this.name));
    // A new connection has a new id; it is asked again before the next read.
    connection.on("ready", () => (this.connectionId = undefined));
    this.connection = connection;
    return connection;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.followed.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = undefined;
        continue;
      }
      const connection = this.open();
      try {
        if (this.connectionId === undefined)
          this.connectionId = Number(await connection.call("CLIENT", "ID"));
        await this.readOnce(connection);
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        const delay = backoffDelay(failures++, RETRY_BACKOFF);
        this.log.warn(
          { err: { message: errorText(error) }, delay },
          "reading gateway replies failed; trying again",
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async readOnce(connection: Redis): Promise<void> {
    const streams = [...this.followed.values()];
    const read = ++this.reading;
    this.blocked = true;
    let reply: unknown;
    try {
      reply = await connection.call(
        "XREAD",
        ...["COUNT", COUNT, "BLOCK", BLOCK_MS, "STREAMS"],
        ...streams.map((s) => s.key),
        ...streams.map((s) => s.lastId),
      );
    } finally {
      if (this.reading === read) this.blocked = false;
    }
    for (const [key, entries] of parseStreamsReply(reply)) {
      for (const raw of entries) {
        const followed = this.followed.get(key);
        if (!followed) break; // settled by an earlier entry of this reply
        followed.lastId = raw.entryId;
        const entry = raw.fields ? parseReplyEntry(raw.fields) : undefined;
        if (!entry) {
          this.log.error({ entryId: raw.entryId }, "unreadable gateway reply entry; skipped");
          continue;
        }
        followed.onEntry(entry);
      }
    }
  }
}
