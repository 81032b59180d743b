import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { loadConfig, type LoadedConfig } from "../../config/index.js";
import {
  ClawbridgeError,
  isClawbridgeError,
  lockStateDir,
  readJournalLines,
  sleep,
  systemClock,
  type StateLock,
} from "../../core/index.js";
import { FileQuarantine, mailboxLayout, nodeOfInboxFile } from "../../mailbox/index.js";
import { RedisStore } from "../../cluster/index.js";
import {
  DEAD_LETTERS_FILE,
  deadLettersOf,
  readDeadLetters,
  requestRetry,
  type DeadLetter,
} from "../../relay/index.js";
import { readTasks, TASKS_FILE } from "../../tasks/index.js";
import type { CliContext } from "../context.js";
import { runningBridge } from "../doctor/index.js";

export interface StateOptions {
  config?: string;
  state?: string;
  json?: boolean;
}

/** How long the state commands wait for Redis (the Redis store) before giving up. */
const REDIS_WAIT_MS = 3_000;

/** How long `state retry` waits for a running bridge to carry the request out. */
const RETRY_WAIT_MS = 10_000;

/** `clawbridge state dead-letters [--json]`: what could never be delivered, and why. */
export async function deadLettersCommand(ctx: CliContext, options: StateOptions): Promise<number> {
  const dir = stateDir(ctx, options);
  const letters = await deadLetters(ctx, options, dir);
  if (options.json) {
    for (const letter of letters) ctx.out(JSON.stringify(summary(letter, ctx)));
    return 0;
  }
  if (letters.length === 0) {
    ctx.err(ctx.t("deadLettersNone", { dir }));
    return 0;
  }
  for (const letter of letters) {
    ctx.out(
      ctx.t("deadLetterLine", {
        at: new Date(letter.at).toISOString(),
        id: letter.id,
        target: letter.target,
        failures: letter.failures,
        code: letter.reason.code,
        origin: letter.reason.origin,
      }),
    );
    ctx.out(ctx.t("deadLetterWhat", { what: describeItem(letter) }));
    ctx.out(ctx.t("deadLetterReason", { reason: letter.reason.message[ctx.locale] }));
  }
  ctx.err(ctx.t("deadLettersCount", { count: letters.length, dir }));
  return 0;
}

/**
 * `clawbridge state retry <id>`: leaves a request in the state folder that the bridge carries
 * out (a running bridge within seconds, a stopped one at its next start), so the CLI never
 * writes the bridge's journals while it runs.
 */
export async function retryCommand(ctx: CliContext, id: string, options: StateOptions): Promise<number> {
  const dir = stateDir(ctx, options);
  const letter = await findLetter(ctx, dir, id, await deadLetters(ctx, options, dir));
  const file = await requestRetry(dir, {
    target: letter.target,
    id: letter.id,
    requestedAt: systemClock.now(),
  });
  const holder = await runningBridge(dir);
  const params = { id: letter.id, target: letter.target };
  if (!holder) {
    ctx.out(ctx.t("retryQueued", params));
    return 0;
  }
  const deadline = systemClock.now() + RETRY_WAIT_MS;
  while (existsSync(file) && systemClock.now() < deadline) await sleep(systemClock, 100);
  if (existsSync(file)) {
    ctx.out(ctx.t("retryWaiting", { ...params, pid: holder.pid }));
    return 0;
  }
  ctx.out(ctx.t("retryDone", params));
  return 0;
}

function stateDir(ctx: CliContext, options: StateOptions): string {
  if (options.state) return path.resolve(ctx.cwd, options.state);
  return stateFolder(ctx, options).dir;
}

/** The state folder (`--state`, else the config's state.dir, else ./.clawbridge) and the config, if given. */
function stateFolder(ctx: CliContext, options: StateOptions): { dir: string; loaded?: LoadedConfig } {
  const loaded = options.config
    ? loadConfig({ path: options.config, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd })
    : undefined;
  if (options.state) return { dir: path.resolve(ctx.cwd, options.state), loaded };
  return { dir: path.resolve(ctx.cwd, loaded?.config.state.dir ?? ".clawbridge"), loaded };
}

/**
 * The dead letters: in the state folder, or with the Redis store in Redis, where every
 * replica records them (a retry request still goes to this replica's state folder: its
 * bridge puts the item back into the shared outbox).
 */
async function deadLetters(ctx: CliContext, options: StateOptions, dir: string): Promise<DeadLetter[]> {
  const redis = options.config ? stateFolder(ctx, options).loaded?.config.state : undefined;
  if (redis?.store !== "redis" || !redis.redis) return readDeadLetters(dir);
  const store = new RedisStore({
    url: redis.redis.url,
    keyPrefix: redis.redis.keyPrefix,
    name: "clawbridge:cli",
  });
  try {
    await store.ready(REDIS_WAIT_MS);
    return deadLettersOf(await store.client.lrange(store.key("journal", "dead-letters"), 0, -1));
  } finally {
    await store.close();
  }
}

async function findLetter(
  ctx: CliContext,
  dir: string,
  given: string,
  letters: readonly DeadLetter[],
): Promise<DeadLetter> {
  const slash = given.indexOf("/");
  const byId = letters.filter((l) => l.id === given);
  const matches =
    byId.length > 0 || slash < 0
      ? byId
      : letters.filter((l) => l.target === given.slice(0, slash) && l.id === given.slice(slash + 1));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new ClawbridgeError("CB_USAGE", ctx.t("retryUnknown", { id: given, dir }), {
      fix: ctx.t("retryUnknownFix"),
    });
  }
  throw new ClawbridgeError(
    "CB_USAGE",
    ctx.t("retryAmbiguous", { id: given, targets: matches.map((l) => l.target).join(", ") }),
    { fix: ctx.t("retryAmbiguousFix", { example: `${matches[0]!.target}/${given}` }) },
  );
}

function describeItem(letter: DeadLetter): string {
  const action = letter.item.payload as {
    kind?: string;
    node?: string;
    text?: string;
    envelope?: { from?: string; to?: string; content?: string };
    place?: { chatId?: string };
  };
  const fold = (text = "") => (text.length > 100 ? `${text.slice(0, 99)}…` : text).replace(/\s+/g, " ");
  if (action.kind === "deliver")
    return `${action.envelope?.from} → ${action.node}: ${fold(action.envelope?.content)}`;
  if (action.kind === "append") return `to-${action.envelope?.to}.jsonl: ${fold(action.envelope?.content)}`;
  return `${action.place?.chatId}: ${fold(action.text)}`;
}

function summary(letter: DeadLetter, ctx: CliContext): Record<string, unknown> {
  return {
    id: letter.id,
    target: letter.target,
    at: new Date(letter.at).toISOString(),
    failures: letter.failures,
    code: letter.reason.code,
    origin: letter.reason.origin,
    reason: letter.reason.message[ctx.locale],
    what: describeItem(letter),
    item: letter.item,
  };
}

/**
 * What `state reset` forgets: the folders of the inbox cursors and delivered-line ids
 * (`mailbox/`), the relay's outboxes (`outbox/`) and the Feishu event dedup and webhook
 * intake (`feishu/`). Everything else stays — above all `identity/`: a new device key would
 * have to be approved again on every gateway. `tasks.jsonl` stays too: it numbers tasks
 * (ids must never repeat, cards and envelopes carry them), holds the /watch and pairing
 * cards, and a running gateway task is followed again at start; the dead letters and the
 * quarantine are records a person still has to read.
 */
const FORGOTTEN = ["mailbox", "outbox", "feishu"] as const;

/** How the command asks: a terminal, or nothing to ask (`--yes` is then required). */
export interface PromptIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  interactive: boolean;
}

const processIo = (): PromptIo => ({
  input: process.stdin,
  output: process.stderr,
  interactive: Boolean(process.stdin.isTTY),
});

/**
 * `clawbridge state reset [--yes]`: lists what would be lost and what stays, asks (unless
 * `--yes`), then deletes the forgotten folders. It takes the state lock for the whole time,
 * so it refuses while a bridge runs and no bridge can start half-way through.
 */
export async function resetCommand(
  ctx: CliContext,
  options: StateOptions & { yes?: boolean },
  io: PromptIo = processIo(),
): Promise<number> {
  const { dir, loaded } = stateFolder(ctx, options);
  if (!existsSync(dir)) {
    ctx.out(ctx.t("resetNothing", { dir }));
    return 0;
  }
  const lock = await lockForReset(ctx, dir);
  try {
    const found = await inventory(dir, loaded?.config.mailbox.root);
    if (!FORGOTTEN.some((name) => found.present.has(name))) {
      ctx.out(ctx.t("resetNothingToForget", { dir }));
      return 0;
    }
    ctx.out(ctx.t("resetTitle", { dir }));
    for (const line of describeInventory(ctx, dir, found)) ctx.out(line);
    if (!options.yes) {
      if (!io.interactive) {
        throw new ClawbridgeError("CB_USAGE", ctx.t("resetNeedYes", { dir }), {
          fix: ctx.t("resetNeedYesFix"),
        });
      }
      const answer = await ask(io, ctx.t("resetAsk", { dir }));
      if (!/^(y|yes|是)$/i.test(answer.trim())) {
        ctx.out(ctx.t("resetDeclined", { dir }));
        return 1;
      }
    }
    for (const name of FORGOTTEN) await fs.rm(path.join(dir, name), { recursive: true, force: true });
    ctx.out(ctx.t("resetDone", { dir }));
    return 0;
  } finally {
    await lock.release();
  }
}

/** The state lock, or the refusal naming the running bridge. */
async function lockForReset(ctx: CliContext, dir: string): Promise<StateLock> {
  try {
    return await lockStateDir(dir);
  } catch (error) {
    if (isClawbridgeError(error, "CB_STATE_LOCKED") && error.details.holder) {
      const { pid, host, since } = error.details.holder;
      throw new ClawbridgeError("CB_STATE_LOCKED", ctx.t("resetLocked", { dir, pid, host, since }), {
        fix: ctx.t("resetLockedFix", { pid }),
        details: error.details,
      });
    }
    throw error;
  }
}

async function ask(io: PromptIo, question: string): Promise<string> {
  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  try {
    // A closed input (Ctrl-D) is a "no".
    const closed = new Promise<string>((resolve) => rl.once("close", () => resolve("")));
    return await Promise.race([rl.question(question), closed]);
  } finally {
    rl.close();
  }
}

/** What a state folder holds, as `reset` reports it; read without changing anything. */
interface Inventory {
  /** Which of {@link FORGOTTEN} exist. */
  present: Set<string>;
  /** Inboxes with a cursor. */
  cursors: number;
  /** Bytes after where the bridge last read, per inbox (only when the shared folder is known). */
  unread: { inbox: string; bytes: number }[];
  deliveredIds: number;
  /** Items put and not done, per outbox target (`_mailbox`, `_chat` or a node). */
  outboxes: { target: string; pending: number }[];
  eventIds: number;
  intakePending: number;
  deviceId?: string;
  tokenNodes: number;
  tasks: number;
  openTasks: number;
  deadLetters: number;
  quarantined: number;
}

/** Where an outbox item came from in an inbox (`OutboxSource`), as read from the journal. */
type Sourced = { inbox?: unknown; end?: unknown };

async function inventory(dir: string, sharedRoot: string | undefined): Promise<Inventory> {
  const present = new Set<string>();
  for (const name of FORGOTTEN) if (existsSync(path.join(dir, name))) present.add(name);
  const cursorsFile = await readJson(path.join(dir, "mailbox", "cursors.json"));
  // Where reading resumes: the saved cursor, or further where the outboxes and the ledgers
  // already record lines as handled (the same sources the bridge resumes from).
  const reached = new Map<string, number>();
  const reach = (inbox: unknown, end: unknown) => {
    if (typeof inbox === "string" && typeof end === "number")
      reached.set(inbox, Math.max(reached.get(inbox) ?? 0, end));
  };
  for (const [inbox, cursor] of Object.entries(cursorsFile))
    reach(inbox, (cursor as { offset?: unknown })?.offset);
  for (const record of await jsonLines(path.join(dir, "mailbox", "outbox-ledger.jsonl")))
    reach(record.inbox, record.end);

  let deliveredIds = 0;
  const deliveredDir = path.join(dir, "mailbox", "delivered");
  for (const name of await listDir(deliveredDir)) {
    if (!name.endsWith(".log")) continue;
    for (const line of await readJournalLines(path.join(deliveredDir, name))) {
      const [id, end] = line.split(" ");
      if (id === "-" || !id) continue;
      deliveredIds++;
      reach(name.slice(0, -".log".length), Number(end));
    }
  }

  const outboxes: Inventory["outboxes"] = [];
  const outboxDir = path.join(dir, "outbox");
  for (const name of (await listDir(outboxDir)).sort()) {
    if (!name.endsWith(".jsonl")) continue;
    const pending = new Set<string>();
    for (const record of await jsonLines(path.join(outboxDir, name))) {
      const item = record.item as { id?: unknown; source?: Sourced } | undefined;
      // A `done` repeats its item's source: it still tells where reading stood after compaction.
      const source = item?.source ?? (record.source as Sourced | undefined);
      reach(source?.inbox, source?.end);
      if (record.op === "put" && typeof item?.id === "string") pending.add(item.id);
      else if (record.op === "done" && typeof record.id === "string") pending.delete(record.id);
    }
    // File names percent-encode what is not portable (`feishu:oc_…` targets).
    outboxes.push({ target: decodeURIComponent(name.slice(0, -".jsonl".length)), pending: pending.size });
  }

  const unread: Inventory["unread"] = [];
  if (sharedRoot && present.has("mailbox")) {
    const messagesDir = mailboxLayout(sharedRoot).messagesDir;
    for (const inbox of (await listDir(messagesDir)).sort()) {
      if (nodeOfInboxFile(inbox) === undefined) continue;
      const size = await fs.stat(path.join(messagesDir, inbox)).then(
        (st) => st.size,
        () => 0,
      );
      const at = reached.get(inbox) ?? 0;
      // Past the end: the inbox was rotated, and the bridge would read the new one from its start.
      const bytes = at > size ? size : size - at;
      if (bytes > 0) unread.push({ inbox, bytes });
    }
  }

  const eventIds = (await readJournalLines(path.join(dir, "feishu", "events.log"))).length;
  const intake = new Set<string>();
  for (const record of await jsonLines(path.join(dir, "feishu", "intake.jsonl"))) {
    if (typeof record.key !== "string") continue;
    if (record.op === "in") intake.add(record.key);
    else if (record.op === "done") intake.delete(record.key);
  }

  const device = await readJson(path.join(dir, "identity", "device.json"));
  const tokens = await readJson(path.join(dir, "identity", "device-tokens.json"));
  const tasks = await readTasks(dir);
  return {
    present,
    cursors: Object.keys(cursorsFile).length,
    unread,
    deliveredIds,
    outboxes,
    eventIds,
    intakePending: intake.size,
    deviceId: typeof device.deviceId === "string" ? device.deviceId : undefined,
    tokenNodes: Object.keys(tokens).length,
    tasks: tasks.length,
    openTasks: tasks.filter((task) => task.state === "queued" || task.state === "running").length,
    deadLetters: (await readDeadLetters(dir)).length,
    quarantined: await FileQuarantine.count(dir),
  };
}

/** The report: every forgotten thing with its count, then what stays. */
function describeInventory(ctx: CliContext, dir: string, found: Inventory): string[] {
  const t = ctx.t;
  const lines = [t("resetLoses")];
  const mailboxDir = path.join(dir, "mailbox");
  if (found.present.has("mailbox")) {
    lines.push(t("resetCursors", { path: path.join(mailboxDir, "cursors.json"), count: found.cursors }));
    for (const { inbox, bytes } of found.unread) lines.push(t("resetUnread", { inbox, bytes }));
    lines.push(t("resetDelivered", { path: path.join(mailboxDir, "delivered"), count: found.deliveredIds }));
  }
  if (found.present.has("outbox")) {
    const total = found.outboxes.reduce((sum, outbox) => sum + outbox.pending, 0);
    lines.push(t("resetOutboxes", { path: path.join(dir, "outbox"), count: total }));
    for (const { target, pending } of found.outboxes) {
      if (pending === 0) continue;
      if (target === "_mailbox") lines.push(t("resetOutboxMailbox", { count: pending }));
      else if (target === "_chat") lines.push(t("resetOutboxChat", { count: pending }));
      else lines.push(t("resetOutboxNode", { target, count: pending }));
    }
  }
  if (found.present.has("feishu")) {
    lines.push(t("resetEvents", { path: path.join(dir, "feishu", "events.log"), count: found.eventIds }));
    lines.push(
      t("resetIntake", { path: path.join(dir, "feishu", "intake.jsonl"), count: found.intakePending }),
    );
  }
  lines.push(t("resetKeeps"));
  const identityDir = path.join(dir, "identity");
  lines.push(
    found.deviceId
      ? t("resetKeepIdentity", { file: path.join(identityDir, "device.json"), id: found.deviceId })
      : t("resetKeepNoIdentity"),
  );
  if (found.tokenNodes > 0)
    lines.push(
      t("resetKeepTokens", { file: path.join(identityDir, "device-tokens.json"), count: found.tokenNodes }),
    );
  lines.push(
    t("resetKeepTasks", { file: path.join(dir, TASKS_FILE), count: found.tasks, open: found.openTasks }),
    t("resetKeepDeadLetters", { file: path.join(dir, DEAD_LETTERS_FILE), count: found.deadLetters }),
    t("resetKeepQuarantine", { file: new FileQuarantine(dir).file, count: found.quarantined }),
  );
  return lines;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await fs.readFile(file, "utf8")) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A journal's records as objects; lines that are not JSON objects are left out. */
async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
  const records: Record<string, unknown>[] = [];
  for (const line of await readJournalLines(file)) {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === "object" && value !== null) records.push(value as Record<string, unknown>);
    } catch {
      // A line no writer of ours produced: nothing to count.
    }
  }
  return records;
}

async function listDir(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}
