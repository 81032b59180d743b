import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  createFileExclusive,
  ClawbridgeError,
  errnoCode,
  isProcessAlive,
  silentLogger,
  systemClock,
  translator,
  writeFileAtomic,
  type Catalog,
  type Clock,
  type Locale,
  type Logger,
  type Translate,
} from "../core/index.js";
import { withFileLock, type LockOptions } from "./io-thread.js";
import { assertNodeName, ensureLayout, mailboxLayout, type MailboxLayout } from "./layout.js";

export const DEFAULT_LEASE_TTL_MS = 30_000;
export const DEFAULT_LEASE_HEARTBEAT_MS = 10_000;

/** What `status/<self>.lock` holds. */
export interface LeaseRecord {
  host: string;
  pid: number;
  /** ISO 8601: when this holder took the lease. */
  since: string;
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
  /** Language of the errors (the refusal is printed by the CLI); default en. */
  locale?: Locale;
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

type Key =
  | "held"
  | "heldUnreadable"
  | "heldFix"
  | "heldFixUnknown"
  | "heldSelf"
  | "lostTaken"
  | "lostExpired"
  | "lostFix";
const messages: Catalog<Key> = {
  "zh-CN": {
    held: "共享文件夹 {root} 已由另一个 clawbridge 服务：{file} 由 {host} 上的进程 {pid} 持有，自 {since} 起，最近一次心跳 {heartbeat}（{ago} 秒前）",
    heldUnreadable:
      "共享文件夹 {root} 已由另一个 clawbridge 服务：{file} 已被占用（内容无法读取，{ago} 秒前写入）",
    heldFix:
      "先停止 {host} 上的 clawbridge（进程 {pid}）；如果它已经退出，等待 {ttl} 秒后再启动——超过这个时间没有心跳的租约会被接管。它运行期间切勿手动删除 {file}",
    heldFixUnknown: "先停止使用这个共享文件夹的另一个 clawbridge；如果没有在运行的，等待 {ttl} 秒后再启动",
    heldSelf: "本进程已经持有 {file}",
    lostTaken: "失去了共享文件夹的租约 {file}：现在由 {host} 上的进程 {pid} 持有（自 {since} 起）",
    lostExpired: "失去了共享文件夹的租约 {file}：已有 {ttl} 秒无法续约（{reason}）",
    lostFix: "本 clawbridge 必须停止服务这个共享文件夹；确认只有一个 clawbridge 在使用它，然后重启本进程",
  },
  en: {
    held: "the shared folder {root} is already served by another clawbridge: {file} is held by pid {pid} on {host} since {since}, last heartbeat {heartbeat} ({ago} s ago)",
    heldUnreadable:
      "the shared folder {root} is already served by another clawbridge: {file} is held (its content is unreadable; written {ago} s ago)",
    heldFix:
      "stop the clawbridge on {host} (pid {pid}) first; if it died, wait {ttl} s and start again — a lease without a heartbeat for that long is taken over. Never delete {file} by hand while it runs",
    heldFixUnknown:
      "stop the other clawbridge that uses this shared folder; if none runs, wait {ttl} s and start again",
    heldSelf: "this process already holds {file}",
    lostTaken: "lost the lease {file} on the shared folder: pid {pid} on {host} holds it now (since {since})",
    lostExpired: "lost the lease {file} on the shared folder: it could not be renewed for {ttl} s ({reason})",
    lostFix:
      "this bridge must stop serving the shared folder; make sure only one clawbridge uses it, then restart this one",
  },
};

/** Leases live in this process, so a second acquire of the same identity is refused rather than "taken over". */
const heldHere = new Set<string>();
/** The tail of each lease file's queue of guarded sections in this process. */
const localQueue = new Map<string, Promise<void>>();

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
 * Races: every read-decide-write (acquire, heartbeat, release) runs under the mailbox's
 * short O_EXCL file lock on the lease (`status/<self>.lock.lock`, see io-thread.ts), so two
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
    throw new ClawbridgeError(
      "CB_USAGE",
      `lease heartbeatMs (${heartbeatMs}) must be above 0 and below ttlMs (${ttlMs})`,
    );
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
  private readonly t: Translate<Key>;
  private readonly key: string;
  private readonly guard: LockOptions;
  private readonly listeners = new Set<(loss: LeaseLoss) => void>();
  private timer: NodeJS.Timeout | undefined;
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
    this.t = translator(messages, options.locale ?? "en");
    const now = new Date(this.clock.now()).toISOString();
    this.record = {
      host: options.host ?? os.hostname(),
      pid: options.pid ?? process.pid,
      since: now,
      heartbeat: now,
      ...(options.version ? { version: options.version } : {}),
    };
    this.key = `${this.file}\0${this.record.host}\0${this.record.pid}`;
    // Held for milliseconds; a short wait keeps the shared I/O thread (which also serves appends) free.
    this.guard = { staleMs: options.lockStaleMs ?? 10_000, timeoutMs: Math.min(5_000, heartbeatMs) };
    if (options.onLost) this.listeners.add(options.onLost);
  }

  async acquire(): Promise<void> {
    if (heldHere.has(this.key)) {
      throw new ClawbridgeError("CB_LEASE_HELD", this.t("heldSelf", { file: this.file }), {
        details: { leaseFile: this.file, holder: this.record },
      });
    }
    // Claimed before the first await, so a concurrent acquire of the same identity is refused too.
    heldHere.add(this.key);
    try {
      await this.claim();
    } catch (error) {
      heldHere.delete(this.key);
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
    const ageMs = Math.max(0, serverNow - seen.mtimeMs);
    const isAlive = this.options.isAlive ?? isProcessAlive;
    if (previous && previous.host === this.record.host) {
      if (previous.pid === this.record.pid) {
        this.log.info({ previous }, "taking over this process's own leftover lease");
        return;
      }
      if (!isAlive(previous.pid)) {
        this.log.warn(
          { previous },
          `taking over our leftover lease: pid ${previous.pid} on this host is gone`,
        );
        return;
      }
    }
    if (ageMs > this.ttlMs) {
      const who = previous ? `pid ${previous.pid} on ${previous.host}` : "an unreadable holder";
      this.log.warn(
        { previous, silentForMs: Math.round(ageMs), ttlMs: this.ttlMs },
        `taking over a stale lease from ${who}: no heartbeat for ${seconds(ageMs)} s`,
      );
      return;
    }
    throw this.heldError(seen, ageMs);
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
      ? this.t("held", {
          ...common,
          host: holder.host,
          pid: holder.pid,
          since: holder.since,
          heartbeat: holder.heartbeat,
        })
      : this.t("heldUnreadable", common);
    const fix = holder
      ? this.t("heldFix", { ...common, host: holder.host, pid: holder.pid })
      : this.t("heldFixUnknown", common);
    return new ClawbridgeError("CB_LEASE_HELD", message, {
      fix,
      details: { leaseFile: this.file, holder, ttlMs: this.ttlMs },
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
    heldHere.delete(this.key);
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
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.heartbeat().then(() => this.schedule());
    }, this.heartbeatMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
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
    heldHere.delete(this.key);
    const message =
      reason === "taken-over"
        ? this.t("lostTaken", {
            file: this.file,
            host: holder?.host ?? "?",
            pid: holder?.pid ?? "?",
            since: holder?.since ?? "?",
          })
        : this.t("lostExpired", { file: this.file, ttl: seconds(this.ttlMs), reason: why });
    const error = new ClawbridgeError("CB_LEASE_LOST", message, {
      fix: this.t("lostFix"),
      details: { leaseFile: this.file, holder, reason },
    });
    this.lost = { reason, holder, error };
    this.log.error({ code: error.code, reason, holder }, message);
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
    // Queued per file inside this process first: the I/O thread serves lock requests in
    // order, so a second in-process waiter would hold it up until the timeout.
    const previous = localQueue.get(this.file) ?? Promise.resolve();
    const run = previous.then(() => withFileLock(this.file, this.guard, fn));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    localQueue.set(this.file, settled);
    void settled.then(() => {
      if (localQueue.get(this.file) === settled) localQueue.delete(this.file);
    });
    return run;
  }

  /**
   * "Now" by the file server's clock: the mtime of the guard lock we hold, created a moment
   * ago on the same share — the io-thread lock's technique without an extra probe file.
   */
  private async serverNow(): Promise<number> {
    try {
      return (await fs.stat(`${this.file}.lock`)).mtimeMs;
    } catch {
      return Date.now();
    }
  }
}

interface SeenLease {
  text: string;
  record: LeaseRecord | undefined;
  mtimeMs: number;
}

async function readLease(file: string): Promise<SeenLease | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    return { text, record: parseRecord(text), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

function parseRecord(text: string): LeaseRecord | undefined {
  try {
    const parsed = JSON.parse(text.replace(/^\uFEFF/, "")) as Partial<LeaseRecord>;
    if (typeof parsed.host !== "string" || typeof parsed.pid !== "number") return undefined;
    return {
      host: parsed.host,
      pid: parsed.pid,
      since: String(parsed.since ?? "?"),
      heartbeat: String(parsed.heartbeat ?? parsed.since ?? "?"),
      ...(typeof parsed.version === "string" ? { version: parsed.version } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Whose lease it is: the heartbeat changes, the holder does not. */
function isSameHolder(a: LeaseRecord | undefined, b: LeaseRecord): boolean {
  return a !== undefined && a.host === b.host && a.pid === b.pid && a.since === b.since;
}

function serialize(record: LeaseRecord): string {
  return `${JSON.stringify(record)}\n`;
}

function requireRoot(root: string | undefined): string {
  if (root === undefined) throw new ClawbridgeError("CB_USAGE", "acquireLease needs root or layout");
  return root;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
