/**
 * One line a test writes into an inbox, with what the bridge must do with it. Generators
 * return drafts (a function of a unique marker), because fast-check draws values before the
 * test knows which of them must be told apart in the gateway's runs.
 */

/** `quarantine`: set aside with a reason; `deliver`: run on the addressee's gateway once; `ignore`: read, routed nowhere. */
export type LineFate = "quarantine" | "deliver" | "ignore";

export interface PlannedLine {
  /** What kind of input this is: counted in the report, named in failures. */
  kind: string;
  /** The inbox written to: `to-<inbox>.jsonl`. */
  inbox: string;
  /** The line without its final `\n` (a CRLF line keeps its `\r`). */
  bytes: Buffer;
  fate: LineFate;
  /** For `deliver`: text the gateway run's message contains. */
  marker?: string;
  /** For `deliver`: the inbox the answer is appended to (the sender's, or the bridge's own). */
  answerInbox?: string;
}

export type LineDraft = (marker: string) => PlannedLine;

/** The nodes of `bridgeWorld`: two with a gateway, one mailbox-only; the bridge is `clawbridge`. */
export const GATEWAY_NODES = ["ai-pc", "office-mac"] as const;
export const MAILBOX_ONLY_NODE = "nas-agent";
export const SELF = "clawbridge";

/** Inboxes that take bad lines: the gateway nodes' and two named like Windows devices. */
export const BAD_LINE_INBOXES = [...GATEWAY_NODES, "con", "nul"] as const;

export const TIMESTAMP = "2026-02-14T18:40:00+08:00";

/** A seed-format envelope from the mailbox-only node, as an agent writes it. */
export function seedEnvelope(to: string, content: string): Record<string, unknown> {
  return { from: MAILBOX_ONLY_NODE, to, timestamp: TIMESTAMP, type: "message", content };
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** A line that must end up in the quarantine, whatever marker it is given. */
export function badLine(kind: string, inbox: string, bytes: Buffer): LineDraft {
  return () => ({ kind, inbox, bytes, fate: "quarantine" });
}
