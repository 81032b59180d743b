import {
  connectionName,
  errorText,
  parseClaimReply,
  parseStreamsReply,
  type RawEntry,
} from "../cluster/index.js";
import type { Redis } from "ioredis";
import type { Fence, RedisStore } from "../cluster/index.js";
import { backoffDelay, systemClock, type Logger } from "../core/index.js";
import { HOSTS_GROUP } from "./gateway-wire.js";

export interface RequestConsumerOptions {
  store: RedisStore;
  /** The request stream. */
  stream: string;
  consumer: string;
  fence: Fence;
  /** How long an entry another consumer took must lie idle before this one takes it over. */
  claimIdleMs: number;
  log: Logger;
  /** Called for every entry this consumer gets (again, possibly: the callee skips what it serves). */
  deliver: (entries: RawEntry[]) => void;
}

/** Entries read or claimed per command. */
const BATCH = 100;
/** A blocked read returns at least this often, so stopping and claiming are never held up long. */
const BLOCK_MS = 1_000;
/** Pages of one claim or re-read at most, per round (more come in the next round). */
const MAX_PAGES = 20;
const RETRY_BACKOFF = { baseMs: 100, maxMs: 5_000, factor: 2, jitter: 0.3 };

/**
 * Reads a node's request stream as one consumer of the group `hosts`, on its own connection
 * (`XREADGROUP BLOCK` holds it): first this consumer's own pending entries (it restarted),
 * then, every `claimIdleMs / 2`, entries another consumer took and left idle `claimIdleMs`
 * (a host that died: a live host touches what it serves more often, see `GatewayHost`),
 * and new entries in between. Requests are independent of each other, so nothing waits for a
 * takeover to finish first.
 */
export class RequestConsumer {
  private connection: Redis | undefined;
  private stopped = false;
  /** Times the connection dropped: a read that was out meanwhile may have lost its reply. */
  private drops = 0;
  private readonly wakers = new Set<() => void>();
  private loop: Promise<void> = Promise.resolve();
  private halt!: () => void;
  /** Rejects on stop; every command on the connection races it (see `command`). */
  private readonly halted = new Promise<never>((_, reject) => {
    this.halt = () => reject(new Error("gateway requests: reading stopped"));
  });

  constructor(private readonly options: RequestConsumerOptions) {
    this.halted.catch(() => undefined);
  }

  start(): void {
    if (this.connection || this.stopped) return;
    const connection = this.options.store.duplicate(connectionName(`gateway-host:${this.options.consumer}`));
    connection.on("close", () => this.drops++);
    this.connection = connection;
    this.loop = this.run(connection);
  }

  /** Stops reading; what was taken and not answered stays pending for the next owner. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt();
    for (const wake of this.wakers) wake();
    this.connection?.disconnect();
    await this.loop;
  }

  private async run(connection: Redis): Promise<void> {
    const { claimIdleMs, log } = this.options;
    let phase: "group" | "own" | "read" = "group";
    let nextClaimAt = 0;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (phase === "group") {
          await this.createGroup(connection);
          phase = "own";
        }
        if (!this.options.fence.held()) {
          // The lease is lapsing: whoever owns the node next serves; this host is being stopped.
          await this.pause(Math.min(200, claimIdleMs));
          continue;
        }
        if (phase === "own") {
          await this.readOwn(connection);
          phase = "read";
        }
        // Real time (`systemClock`), as Redis measures the idle time of what it hands over.
        if (systemClock.now() >= nextClaimAt) {
          await this.claimIdle(connection);
          nextClaimAt = systemClock.now() + Math.max(50, claimIdleMs / 2);
        }
        const blockMs = Math.min(BLOCK_MS, Math.max(10, nextClaimAt - systemClock.now()));
        if (!(await this.readNew(connection, blockMs))) phase = "own";
        failures = 0;
      } catch (error) {
        if (this.stopped) return;
        const delay = backoffDelay(failures++, RETRY_BACKOFF);
        if (errorText(error).startsWith("NOGROUP")) {
          log.warn({ delay }, "the gateway request group is gone (Redis lost its data?); creating it again");
          phase = "group";
        } else {
          if (phase === "read") phase = "own";
          log.warn(
            { err: { message: errorText(error) }, delay },
            "reading gateway requests failed; trying again",
          );
        }
        await this.pause(delay);
      }
    }
  }

  private async createGroup(connection: Redis): Promise<void> {
    try {
      // At "0": requests made before any host existed are served too.
      await this.command(connection, "XGROUP", "CREATE", this.options.stream, HOSTS_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!errorText(error).startsWith("BUSYGROUP")) throw error;
    }
  }

  /** This consumer's pending entries, from the start ("0" reads its history, not new entries). */
  private async readOwn(connection: Redis): Promise<void> {
    let after = "0";
    for (let page = 0; page < MAX_PAGES && !this.stopped; page++) {
      const reply = await this.command(
        connection,
        "XREADGROUP",
        ...[
          "GROUP",
          HOSTS_GROUP,
          this.options.consumer,
          "COUNT",
          BATCH,
          "STREAMS",
          this.options.stream,
          after,
        ],
      );
      const entries = parseStreamsReply(reply).get(this.options.stream) ?? [];
      if (entries.length === 0) return;
      this.options.deliver(entries);
      after = entries.at(-1)!.entryId;
    }
  }

  /** XAUTOCLAIM through the group: entries idle `claimIdleMs`, whoever holds them. */
  private async claimIdle(connection: Redis): Promise<void> {
    const { stream, consumer, claimIdleMs } = this.options;
    let cursor = "0-0";
    for (let page = 0; page < MAX_PAGES && !this.stopped; page++) {
      const reply = await this.command(
        connection,
        "XAUTOCLAIM",
        ...[stream, HOSTS_GROUP, consumer, Math.round(claimIdleMs), cursor, "COUNT", BATCH],
      );
      const [next, entries] = parseClaimReply(reply);
      if (entries.length > 0) {
        this.options.log.info({ claimed: entries.length }, "took over gateway requests another host left");
        this.options.deliver(entries);
      }
      cursor = next;
      if (cursor === "0-0") return;
    }
  }

  /**
   * New entries. False when the connection dropped while the read was out: Redis may have
   * handed entries over whose reply was lost; they are this consumer's pending ones now, found
   * by re-reading those.
   */
  private async readNew(connection: Redis, blockMs: number): Promise<boolean> {
    const drops = this.drops;
    const reply = await this.command(
      connection,
      "XREADGROUP",
      ...["GROUP", HOSTS_GROUP, this.options.consumer, "COUNT", BATCH, "BLOCK", Math.round(blockMs)],
      ...["STREAMS", this.options.stream, ">"],
    );
    if (this.drops !== drops) return false;
    const entries = parseStreamsReply(reply).get(this.options.stream) ?? [];
    if (entries.length > 0) this.options.deliver(entries);
    return true;
  }

  /**
   * A command on the consumer's connection, given up on stop: ioredis never settles a command
   * that was out when the connection dropped if the connection is closed while it reconnects
   * (before it is ready), and the loop would wait for it forever.
   */
  private command(connection: Redis, name: string, ...args: (string | number)[]): Promise<unknown> {
    return Promise.race([connection.call(name, ...args), this.halted]);
  }

  /** Waits `ms`, or less when stopping. */
  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
