import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../config/index.js";
import {
  ClawbridgeError,
  isProcessAlive,
  parseLockRecord,
  sleep,
  STATE_LOCK_FILE,
  systemClock,
  type LockRecord,
} from "../../core/index.js";
import { readDeadLetters, requestRetry, type DeadLetter } from "../../relay/index.js";
import type { CliContext } from "../context.js";

export interface StateOptions {
  config?: string;
  state?: string;
  json?: boolean;
}

/** How long `state retry` waits for a running bridge to carry the request out. */
const RETRY_WAIT_MS = 10_000;

/** `clawbridge state dead-letters [--json]`: what could never be delivered, and why. */
export async function deadLettersCommand(ctx: CliContext, options: StateOptions): Promise<number> {
  const dir = stateDir(ctx, options);
  const letters = await readDeadLetters(dir);
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
  const letter = await findLetter(ctx, dir, id);
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
  const loaded = options.config
    ? loadConfig({ path: options.config, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd })
    : undefined;
  return path.resolve(ctx.cwd, loaded?.config.state.dir ?? ".clawbridge");
}

async function findLetter(ctx: CliContext, dir: string, given: string): Promise<DeadLetter> {
  const letters = await readDeadLetters(dir);
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

/** The bridge holding the state folder, when one runs on this machine. */
async function runningBridge(dir: string): Promise<LockRecord | undefined> {
  const text = await fs.readFile(path.join(dir, STATE_LOCK_FILE), "utf8").catch(() => undefined);
  const holder = text === undefined ? undefined : parseLockRecord(text);
  return holder && holder.host === os.hostname() && isProcessAlive(holder.pid) ? holder : undefined;
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
