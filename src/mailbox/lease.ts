// Longer than our usual file: acquire, heartbeat, takeover and loss are one state machine
// over one file, and its refusals carry their texts.
import { promises as fs } from "node:fs";
import path from "node:path";
import {
  createFileExclusive,
  ClawbridgeError,
  heldLocks,
  isProcessAlive,
  judgeLock,
  parseLockRecord,
  readLockFile,
  silentLogger,
  systemClock,
  thisProcess,
  writeFileAtomic,
  type Clock,
  type LockIdentity,
  type LockRecord,
  type SeenLock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import { withFileLock, type LockOptions } from "./file-lock.js";
import { assertNodeName, ensureLayout, mailboxLayout, type MailboxLayout } from "./layout.js";
import { mailboxMessages as t } from "./messages.js";

export const DEFAULT_LEASE_TTL_MS = 30_000;
export const DEFAULT_LEASE_HEARTBEAT_MS = 10_000;

/** What `status/<self>.lock` holds: the one lock record, plus a heartbeat and the holder's version. */
export interface LeaseRecord extends LockRecord {
  /** ISO 8601, by the holder's clock: its last renewal. Staleness goes by the file's mtime instead. */
  heartbeat: string;
  version?: string;
}

/** Why a lease stopped being ours; the bridge must stop serving the shared folder. */
export interface LeaseLoss {
  /** `taken-over`: another bridge's record replaced ours; `expired`: we could not renew it for `ttlMs`. */
  reason: "taken-over" | "expired";
  /** The record found in our place, when taken over. */
  holder?: LeaseRecord;
  /** `CB_LEASE_LOST`, ready to log or print. */
  error: ClawbridgeError;
}

export interface LeaseOptions {
  /** The shared folder; or give `layout`. */
  root?: string;
  layout?: MailboxLayout;
  /** `mailbox.self`: the lease is `status/<self>.lock`. */
  self: string;
  /** Defaults to this machine's; tests pretend to be another bridge. */
  host?: string;
  /** Defaults to this process's. */
  pid?: number;
  /** Written into the record, for whoever reads it. */
  version?: string;
  /** A lease whose file was not renewed for this long (by the file server's clock) is taken over; default 30 s. */
  ttlMs?: number;
  /** How often the holder renews it; default 10 s, must be below `ttlMs`. */
  heartbeatMs?: number;
  /** Staleness of the short guard lock around every read-and-replace (`mailbox.lockStaleMs`); default 10 s. */
  lockStaleMs?: number;
  logger?: Logger;
  /** Timestamps in the record and renewal bookkeeping; staleness never uses it. */
  clock?: Clock;
  /** Defaults to `process.kill(pid, 0)` (see {@link isProcessAlive}). */
  isAlive?: (pid: number) => boolean;
  /** Called once when the lease is lost. */
  onLost?: (loss: LeaseLoss) => void;
}

/** This bridge's claim on a shared folder. */
export interface Lease {
  readonly file: string;
  /** The record as last written by us. */
  readonly record: LeaseRecord;
  /** Set once the lease is lost; heartbeats have stopped then. */
  readonly lost: LeaseLoss | undefined;
  /** Adds a listener for the loss (called at once if already lost); returns its remover. */
  onLost(listener: (loss: LeaseLoss) => void): () => void;
  /** Renews now (the timer does it every `heartbeatMs`); never throws, a failure is logged. */
  heartbeat(): Promise<void>;
  /** Stops heartbeating and removes the file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/**
 * Claims the shared folder for this bridge: only one bridge may serve it. Creates
 * `status/<self>.lock` (O_EXCL) holding a {@link LeaseRecord} and rewrites it every
 * `heartbeatMs`. An existing lease is
 * - refused with `CB_LEASE_HELD` naming its holder while it is fresh: its mtime — the file
 *   server's clock, so bridges with skewed clocks agree — is within `ttlMs`;
 * - taken over with a warning when stale (no heartbeat for `ttlMs`: its bridge died or hangs);
 * - taken over at once when it is our own leftover: same host and a pid that is gone, or our
 *   own pid (a restarted container often gets the same pid).
 *
 * Staleness follows the one rule of every lock (`judgeLock`), with `ttlMs` as its age limit.
 *
 * Races: every read-decide-write (acquire, heartbeat, release) runs under the mailbox's
 * short O_EXCL file lock on the lease (`status/<self>.lock.lock`, see file-lock.ts), so two
 * starters cannot both judge a stale lease and both take it, and a heartbeat cannot
 * overwrite a takeover it has not seen. A takeover replaces the file by rename (readers see
 * the old or the new record, never half), a first claim creates it with O_EXCL. The guard
 * itself can only be broken when its holder froze for `lockStaleMs`; should two bridges
 * then both believe they hold the lease, the next heartbeat of the one whose record was
 * replaced sees a foreign record and reports the loss — it never writes over it.
 */
export async function acquireLease(options: LeaseOptions): Promise<Lease> {
  assertNodeName(options.self, "mailbox.self");
  const layout = options.layout ?? mailboxLayout(requireRoot(options.root));
  await ensureLayout(layout);
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_LEASE_HEARTBEAT_MS;
  if (!(heartbeatMs > 0 && heartbeatMs < ttlMs)) {
    throw new ClawbridgeError("CB_USAGE", t.text("leaseBadTiming", { heartbeatMs, ttlMs }));
  }
  const lease = new FileLease(layout, options, ttlMs, heartbeatMs);
  await lease.acquire();
  return lease;
}

class FileLease implements Lease {
  readonly file: string;
  record: LeaseRecord;
  lost: LeaseLoss | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly identity: LockIdentity;
  private readonly guard: LockOptions;
  private readonly listeners = new Set<(loss: LeaseLoss) => void>();
  private timer: TimerHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private released = false;
  private lastRenewed = 0;

  constructor(
    private readonly layout: MailboxLayout,
    private readonly options: LeaseOptions,
    private readonly ttlMs: number,
    private readonly heartbeatMs: number,
  ) {
    this.file = path.join(layout.statusDir, `${options.self}.lock`);
    this.log = (options.logger ?? silentLogger()).child({ component: "lease", leaseFile: this.file });
    this.clock = options.clock ?? systemClock;
    this.identity = thisProcess({ host: options.host, pid: options.pid });
    const now = new Date(this.clock.now()).toISOString();
    this.record = {
      ...this.identity,
      since: now,
      heartbeat: now,
      ...(options.version ? { version: options.version } : {}),
    };
    // The guard is held for milliseconds; waiting longer than a heartbeat for it helps nobody.
    this.guard = {
      staleMs: options.lockStaleMs ?? 10_000,
      timeoutMs: Math.min(5_000, heartbeatMs),
      identity: this.identity,
    };
    if (options.onLost) this.listeners.add(options.onLost);
  }

  async acquire(): Promise<void> {
    // Claimed before the first await, so a concurrent acquire of the same identity is refused too.
    if (!heldLocks.claim({ file: this.file, kind: "lease", ...this.identity, since: this.clock.now() })) {
      throw new ClawbridgeError("CB_LEASE_HELD", t.text("leaseHeldSelf", { file: this.file }), {
        details: { leaseFile: this.file, holder: this.record },
      });
    }
    try {
      await this.claim();
    } catch (error) {
      heldLocks.release(this.file, this.identity);
      throw error;
    }
    this.lastRenewed = this.clock.now();
    this.log.info({ holder: this.record, ttlMs: this.ttlMs }, "shared-folder lease acquired");
    this.schedule();
  }

  private claim(): Promise<void> {
    return this.guarded(async () => {
      const seen = await readLease(this.file);
      const body = serialize(this.record);
      if (!seen) {
        if (!(await createFileExclusive(this.file, body)))
          throw this.heldError(await readLease(this.file), 0);
      } else {
        this.judgeExisting(seen, await this.serverNow());
        await writeFileAtomic(this.file, body);
      }
      // Belt and braces against a writer that ignores the guard.
      const check = await readLease(this.file);
      if (check?.text !== body) throw this.heldError(check, 0);
    });
  }

  /** Throws `CB_LEASE_HELD` unless the existing lease may be taken over (and logs why it is). */
  private judgeExisting(seen: SeenLease, serverNow: number): void {
    const previous = seen.record;
    const verdict = judgeLock(
      seen,
      this.identity,
      { staleAfterMs: this.ttlMs, unreadableAfterMs: this.ttlMs },
      serverNow,
      this.options.isAlive ?? isProcessAlive,
    );
    if (!verdict.free) throw this.heldError(seen, verdict.ageMs);
    if (verdict.why === "own-leftover") {
      this.log.info({ previous }, "taking over this process's own leftover lease");
    } else if (verdict.why === "holder-gone") {
      this.log.warn(
        { previous },
        `taking over our leftover lease: pid ${previous?.pid} on this host is gone`,
      );
    } else {
      const who = previous ? `pid ${previous.pid} on ${previous.host}` : "an unreadable holder";
      this.log.warn(
        { previous, silentForMs: Math.round(verdict.ageMs), ttlMs: this.ttlMs },
        `taking over a stale lease from ${who}: no heartbeat for ${seconds(verdict.ageMs)} s`,
      );
    }
  }

  private heldError(seen: SeenLease | undefined, ageMs: number): ClawbridgeError {
    const holder = seen?.record;
    const common = {
      root: this.layout.root,
      file: this.file,
      ago: seconds(ageMs),
      ttl: seconds(this.ttlMs),
    };
    const message = holder
      ? t.text("leaseHeld", {
          ...common,
          host: holder.host,
          pid: holder.pid,
          since: holder.since,
          heartbeat: holder.heartbeat,
        })
      : t.text("leaseHeldUnreadable", common);
    const fix = holder
      ? t.text("leaseHeldFix", { ...common, host: holder.host, pid: holder.pid })
      : t.text("leaseHeldFixUnknown", common);
    return new ClawbridgeError("CB_LEASE_HELD", message, {
      fix,
      details: { leaseFile: this.file, ...(holder ? { holder } : {}), ttlMs: this.ttlMs },
    });
  }

  onLost(listener: (loss: LeaseLoss) => void): () => void {
    if (this.lost) {
      listener(this.lost);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  heartbeat(): Promise<void> {
    const beat = this.chain.then(() => this.beat());
    this.chain = beat;
    return beat;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    await this.chain;
    heldLocks.release(this.file, this.identity);
    if (this.lost) return;
    try {
      await this.guarded(async () => {
        const seen = await readLease(this.file);
        if (seen && isSameHolder(seen.record, this.record)) {
          await fs.rm(this.file, { force: true });
          this.log.info("shared-folder lease released");
        } else {
          this.log.warn({ found: seen?.record }, "the lease is no longer ours; left in place");
        }
      });
    } catch (error) {
      // Not fatal: the file turns stale after ttlMs and the next start takes it over.
      this.log.warn({ err: error }, "could not release the shared-folder lease");
    }
  }

  private schedule(): void {
    if (this.released || this.lost) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.heartbeat().then(() => this.schedule());
    }, this.heartbeatMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      await this.guarded(async () => {
        const seen = await readLease(this.file);
        if (seen && !isSameHolder(seen.record, this.record)) {
          this.lose("taken-over", seen.record);
          return;
        }
        const next = { ...this.record, heartbeat: new Date(this.clock.now()).toISOString() };
        if (seen) {
          // A rewrite, not a touch: utimes would stamp our clock, a write stamps the server's.
          await writeFileAtomic(this.file, serialize(next));
        } else {
          this.log.warn("the lease file vanished (deleted by hand?); writing it again");
          if (!(await createFileExclusive(this.file, serialize(next)))) {
            this.lose("taken-over", (await readLease(this.file))?.record);
            return;
          }
        }
        this.record = next;
        this.lastRenewed = this.clock.now();
      });
    } catch (error) {
      const silentMs = this.clock.now() - this.lastRenewed;
      this.log.warn({ err: error, silentForMs: silentMs }, "could not renew the shared-folder lease");
      // Past ttlMs another bridge may rightly have taken it: we cannot tell, so we must stop.
      if (silentMs >= this.ttlMs) this.lose("expired", undefined, errorText(error));
    }
  }

  private lose(reason: LeaseLoss["reason"], holder: LeaseRecord | undefined, why = ""): void {
    if (this.lost) return;
    this.stopTimer();
    heldLocks.release(this.file, this.identity);
    const message =
      reason === "taken-over"
        ? t.text("leaseLostTaken", {
            file: this.file,
            host: holder?.host ?? "?",
            pid: holder?.pid ?? "?",
            since: holder?.since ?? "?",
          })
        : t.text("leaseLostExpired", { file: this.file, ttl: seconds(this.ttlMs), reason: why });
    const error = new ClawbridgeError("CB_LEASE_LOST", message, {
      fix: t.text("leaseLostFix"),
      details: { leaseFile: this.file, ...(holder ? { holder } : {}), reason },
    });
    this.lost = { reason, holder, error };
    this.log.error({ code: error.code, reason, holder }, error.message);
    for (const listener of this.listeners) {
      try {
        listener(this.lost);
      } catch (listenerError) {
        this.log.error({ err: listenerError }, "lease-lost listener failed");
      }
    }
    this.listeners.clear();
  }

  private guarded<T>(fn: () => Promise<T>): Promise<T> {
    // withFileLock queues this process's own callers per file, then takes the file lock.
    return withFileLock(this.file, this.guard, fn);
  }

  /**
   * "Now" by the file server's clock: the mtime of the guard lock we hold, created a moment
   * ago on the same share — `serverNow`'s technique without an extra probe file.
   */
  private async serverNow(): Promise<number> {
    try {
      return (await fs.stat(`${this.file}.lock`)).mtimeMs;
    } catch {
      return this.clock.now();
    }
  }
}

type SeenLease = SeenLock<LeaseRecord>;

function readLease(file: string): Promise<SeenLease | undefined> {
  return readLockFile(file, parseRecord);
}

function parseRecord(text: string): LeaseRecord | undefined {
  const record = parseLockRecord<LeaseRecord>(text);
  if (!record) return undefined;
  const { host, pid, since, heartbeat, version } = record;
  return {
    host,
    pid,
    since,
    heartbeat: String(heartbeat ?? since),
    ...(typeof version === "string" ? { version } : {}),
  };
}

/** Whose lease it is: the heartbeat changes, the holder does not. */
function isSameHolder(a: LeaseRecord | undefined, b: LeaseRecord): boolean {
  return a !== undefined && a.host === b.host && a.pid === b.pid && a.since === b.since;
}

function serialize(record: LeaseRecord): string {
  return `${JSON.stringify(record)}\n`;
}

function requireRoot(root: string | undefined): string {
  if (root === undefined) throw new ClawbridgeError("CB_USAGE", t.text("leaseNeedsRoot"));
  return root;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
