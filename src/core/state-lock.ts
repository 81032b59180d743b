import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createFileExclusive } from "./atomic-write.js";
import { systemClock, type Clock } from "./clock.js";
import { ClawbridgeError, errnoCode } from "./errors.js";
import { translator, type Catalog, type Locale, type Translate } from "./i18n.js";
import { silentLogger, type Logger } from "./logger.js";

/** The lock's file name inside `state.dir`. */
export const STATE_LOCK_FILE = "bridge.lock";

/** What `bridge.lock` holds. */
export interface StateLockHolder {
  host: string;
  pid: number;
  /** ISO 8601. */
  since: string;
}

export interface StateLockOptions {
  logger?: Logger;
  /** Language of the refusal (it is printed by the CLI); default en. */
  locale?: Locale;
  /** Defaults to this machine's; tests pretend to be another bridge. */
  host?: string;
  /** Defaults to this process's. */
  pid?: number;
  clock?: Clock;
  /** Defaults to {@link isProcessAlive}. */
  isAlive?: (pid: number) => boolean;
}

/** The running bridge's hold on its state folder. */
export interface StateLock {
  readonly file: string;
  readonly holder: StateLockHolder;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

type Key = "locked" | "lockedFix" | "self" | "busy";
const messages: Catalog<Key> = {
  "zh-CN": {
    locked: "状态目录 {dir} 正被另一个 clawbridge 使用（{host} 上的进程 {pid}，自 {since} 起）",
    lockedFix:
      "先停止那个进程（kill {pid}），或给这个 clawbridge 另配一个 state.dir；两个进程共用一个状态目录会弄坏游标和发件箱",
    self: "本进程已经锁定了状态目录 {dir}",
    busy: "无法锁定状态目录 {dir}：其他进程在同时抢占锁文件",
  },
  en: {
    locked: "the state folder {dir} is in use by another clawbridge (pid {pid} on {host}, since {since})",
    lockedFix:
      "stop that process first (kill {pid}) or give this one another state.dir; two bridges sharing one state folder corrupt its cursors and outboxes",
    self: "this process already holds the state folder {dir}",
    busy: "could not lock the state folder {dir}: other processes keep racing for the lock file",
  },
};

/**
 * Whether a process with this pid exists on this machine. `EPERM` means it exists but
 * belongs to someone else, so it counts as alive; only `ESRCH` proves it is gone.
 */
export function isProcessAlive(pid: number): boolean {
  // 0 and negative pids address process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) !== "ESRCH";
  }
}

/** Lock files this process holds, so a second `lockStateDir` in the same process is refused, not "taken over". */
const heldHere = new Set<string>();

/**
 * Makes this process the only bridge using `dir` (two would corrupt cursors and outboxes):
 * creates `dir/bridge.lock` with O_EXCL holding `{host, pid, since}`. An existing lock whose
 * pid is alive on this host refuses with `CB_STATE_LOCKED`; one whose pid is gone, or that
 * was written on another host (a state folder is local, so that is a copied folder), is
 * taken over with a warning.
 *
 * Taking over races with other starters that judged the same dead lock. Only the O_EXCL
 * create ever makes a lock; removing a dead one happens under a short guard file
 * (`bridge.lock.takeover`, also O_EXCL) and only if the lock still holds exactly what was
 * judged dead. So a starter that looked before someone else took over removes nothing,
 * looks again and finds a live holder. A guard left by a crashed starter is broken when
 * its pid is gone or it is older than {@link GUARD_STALE_MS}.
 */
export async function lockStateDir(dir: string, options: StateLockOptions = {}): Promise<StateLock> {
  const resolved = path.resolve(dir);
  const file = path.join(resolved, STATE_LOCK_FILE);
  const log = (options.logger ?? silentLogger()).child({ component: "state-lock" });
  const t = translator(messages, options.locale ?? "en");
  const key = `${file}\0${options.host ?? os.hostname()}\0${options.pid ?? process.pid}`;
  if (heldHere.has(key)) {
    throw new ClawbridgeError("CB_STATE_LOCKED", t("self", { dir: resolved }), {
      details: { lockFile: file },
    });
  }
  // Claimed before the first await, so a concurrent call with the same identity is refused too.
  heldHere.add(key);
  try {
    return await claim(file, key, options, log, t);
  } catch (error) {
    heldHere.delete(key);
    throw error;
  }
}

async function claim(
  file: string,
  key: string,
  options: StateLockOptions,
  log: Logger,
  t: Translate<Key>,
): Promise<StateLock> {
  const resolved = path.dirname(file);
  const isAlive = options.isAlive ?? isProcessAlive;
  const host = options.host ?? os.hostname();
  const pid = options.pid ?? process.pid;
  await fs.mkdir(resolved, { recursive: true });
  const holder: StateLockHolder = {
    host,
    pid,
    since: new Date((options.clock ?? systemClock).now()).toISOString(),
  };
  const body = `${JSON.stringify(holder)}\n`;

  const deadline = Date.now() + 5_000;
  // A busy takeover guard sends us round again: say why we take over only once per lock seen.
  const said = new Set<string>();
  const sayOnce = (text: string, say: () => void) => {
    if (said.has(text)) return;
    said.add(text);
    say();
  };
  for (let unreadable = 0; ;) {
    if (await createExclusive(file, body)) {
      log.debug({ lockFile: file }, "state folder locked");
      return {
        file,
        holder,
        release: async () => {
          if (!heldHere.delete(key)) return;
          await releaseIfOurs(file, body, log);
        },
      };
    }
    if (Date.now() > deadline) {
      throw new ClawbridgeError("CB_STATE_LOCKED", t("busy", { dir: resolved }), {
        retryable: true,
        details: { lockFile: file },
      });
    }
    const seen = await readLock(file);
    if (!seen) continue; // Gone since our create failed: try again.
    const previous = seen.holder;
    if (!previous) {
      // Its creator writes right after the O_EXCL open: give it a moment before calling it broken.
      if (unreadable++ < 5) {
        await sleep(20);
        continue;
      }
      sayOnce(seen.text, () => log.warn({ lockFile: file }, "taking over an unreadable state lock"));
    } else if (previous.host !== host) {
      sayOnce(seen.text, () =>
        log.warn(
          { lockFile: file, previous },
          `taking over a state lock written on ${previous.host}: this state folder was copied from another machine`,
        ),
      );
    } else if (previous.pid === pid) {
      // Our own pid but not held here: a restarted container that got the same pid again.
      sayOnce(seen.text, () =>
        log.info({ lockFile: file, previous }, "taking over this process's leftover state lock"),
      );
    } else if (isAlive(previous.pid)) {
      throw new ClawbridgeError(
        "CB_STATE_LOCKED",
        t("locked", { dir: resolved, pid: previous.pid, host: previous.host, since: previous.since }),
        { fix: t("lockedFix", { pid: previous.pid }), details: { lockFile: file, holder: previous } },
      );
    } else {
      sayOnce(seen.text, () =>
        log.warn(
          { lockFile: file, previous },
          `taking over the state lock of pid ${previous.pid}, which is gone`,
        ),
      );
    }
    await removeIfStill(file, seen.text, { host, isAlive, body });
  }
}

/** A takeover guard is held for a few file operations; one this old belongs to a crashed starter. */
const GUARD_STALE_MS = 5_000;

/**
 * Removes the lock only if it still holds exactly `judged`, under the takeover guard (see
 * {@link lockStateDir} on the race). Returns without removing anything when the guard is busy.
 */
async function removeIfStill(
  file: string,
  judged: string,
  me: { host: string; isAlive: (pid: number) => boolean; body: string },
): Promise<void> {
  const guard = `${file}.takeover`;
  if (!(await createExclusive(guard, me.body))) {
    if (await isStaleGuard(guard, me)) await fs.rm(guard, { force: true });
    else await sleep(2 + Math.random() * 8);
    return;
  }
  try {
    const current = await readLock(file);
    if (current?.text === judged) await fs.rm(file, { force: true });
  } finally {
    await fs.rm(guard, { force: true });
  }
}

async function isStaleGuard(
  guard: string,
  me: { host: string; isAlive: (pid: number) => boolean },
): Promise<boolean> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(guard, "utf8"), fs.stat(guard)]);
    const holder = parseHolder(text);
    if (holder && holder.host === me.host && !me.isAlive(holder.pid)) return true;
    return Date.now() - stat.mtimeMs > GUARD_STALE_MS;
  } catch {
    return false; // Gone already: the next round sees.
  }
}

/** O_EXCL create; a failure other than "exists" is a state-folder problem with its fix. */
async function createExclusive(file: string, body: string): Promise<boolean> {
  try {
    return await createFileExclusive(file, body);
  } catch (error) {
    throw stateIo(file, error);
  }
}

async function readLock(file: string): Promise<{ text: string; holder?: StateLockHolder } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw stateIo(file, error);
  }
  return { text, holder: parseHolder(text) };
}

function parseHolder(text: string): StateLockHolder | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<StateLockHolder>;
    if (typeof parsed.host === "string" && typeof parsed.pid === "number") {
      return { host: parsed.host, pid: parsed.pid, since: String(parsed.since ?? "?") };
    }
  } catch {
    // Half-written or not ours.
  }
  return undefined;
}

async function releaseIfOurs(file: string, body: string, log: Logger): Promise<void> {
  const seen = await readLock(file).catch(() => undefined);
  if (seen?.text !== body) {
    log.warn({ lockFile: file, holder: seen?.holder }, "state lock is no longer ours; left in place");
    return;
  }
  await fs.rm(file, { force: true });
  log.debug({ lockFile: file }, "state folder unlocked");
}

function stateIo(file: string, cause: unknown): ClawbridgeError {
  return new ClawbridgeError("CB_STATE_IO", `${file}: ${(cause as Error).message}`, {
    fix: "check that the state folder (state.dir) exists and is writable by this user",
    cause,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
