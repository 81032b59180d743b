import { ClawbridgeError } from "./errors.js";
import { coreMessages } from "./messages.js";

/**
 * The newest format version of each journal kind this release reads and writes: the one
 * place owners take their `version` from, and what `doctor` compares headers with. A file
 * with a higher version was written by a newer release; it is refused, never misread.
 */
export const JOURNAL_FORMATS = {
  outbox: 1,
  "outbox-ledger": 1,
  delivered: 1,
  ids: 1,
  quarantine: 1,
  "dead-letters": 1,
  "feishu-intake": 1,
  tasks: 1,
} as const;

export type JournalKind = keyof typeof JOURNAL_FORMATS;

/** Kinds whose files `clawbridge state reset` forgets (under mailbox/, outbox/, feishu/). */
const FORGOTTEN_BY_RESET: ReadonlySet<string> = new Set([
  "outbox",
  "outbox-ledger",
  "delivered",
  "ids",
  "feishu-intake",
]);

export function isJournalKind(kind: string): kind is JournalKind {
  return Object.hasOwn(JOURNAL_FORMATS, kind);
}

/**
 * A state file written by a newer release: refused with the file, both versions and the
 * way out — the newer release, or a reset when `state reset` forgets the file (otherwise a
 * backup from before the upgrade, since reset keeps it).
 */
export function stateNewerError(
  file: string,
  found: number,
  supported: number,
  options: { kind?: string } = {},
): ClawbridgeError<"CB_STATE_NEWER"> {
  const resettable = options.kind !== undefined && FORGOTTEN_BY_RESET.has(options.kind);
  return new ClawbridgeError("CB_STATE_NEWER", coreMessages.text("stateNewer", { file, found, supported }), {
    fix: coreMessages.text(resettable ? "stateNewerFix" : "stateNewerKeptFix", { file }),
    details: { file, found, supported, ...(options.kind ? { kind: options.kind } : {}) },
  });
}
