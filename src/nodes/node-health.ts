import { literalText, type ErrorCode, type Locale, type LocalText } from "../core/index.js";
import type { NodeConfig } from "../config/index.js";
import type { GatewayHealth } from "../gateway/index.js";
import type { NodeStatusSnapshot } from "../mailbox/index.js";
import { nodesMessages as m } from "./messages.js";

/** `gateway`: has a `url` and a gateway client; `mailbox`: reachable only through its inbox file. */
export type NodeKind = "gateway" | "mailbox";

/**
 * One word for a node's state, what the `/nodes` card turns into 在线 / 离线 / 待配对 / 仅邮箱.
 * Only `online` and `mailbox-live` are healthy.
 */
export type NodeStatus =
  | "online"
  | "offline"
  | "pairing"
  | "auth-failed"
  | "connecting"
  | "mailbox-live"
  | "mailbox-stale"
  | "unknown";

/** What went wrong last, said so a person can act on it: in English, and as text to render. */
export interface NodeProblem {
  code: string;
  message: string;
  fix?: string;
  /** `message` and `fix` in the reader's language (see `renderProblem`). */
  text?: LocalText;
  fixText?: LocalText;
}

/** A problem from its texts: English `message`/`fix` for logs and JSON, the texts for people. */
export function nodeProblem(code: string, text: LocalText, fixText?: LocalText): NodeProblem {
  return fixText === undefined
    ? { code, message: text.render("en"), text }
    : { code, message: text.render("en"), fix: fixText.render("en"), text, fixText };
}

/** A problem's message and fix in `locale` (problems without texts are shown as they are). */
export function renderProblem(problem: NodeProblem, locale: Locale): { message: string; fix?: string } {
  const message = (problem.text ?? literalText(problem.message)).render(locale);
  const fix = problem.fixText?.render(locale) ?? problem.fix;
  return fix === undefined ? { message } : { message, fix };
}

/** A node as the pool, the `/nodes` card and `doctor` see it. */
export interface NodeHealth {
  name: string;
  displayName?: string;
  kind: NodeKind;
  tags: string[];
  maxConcurrent: number;
  /** Tasks the pool has handed to this node and not yet released (see `NodePool.acquire`). */
  running: number;
  status: NodeStatus;
  healthy: boolean;
  /** Last time the node was known to be there (ms since the epoch). */
  lastSeen?: number;
  /** How long it has been gone, when it is not healthy and `lastSeen` is known. */
  offlineForMs?: number;
  /** Gateway ping round trip; only while connected (an old figure would mislead selection). */
  latencyMs?: number;
  pairing?: { requestId: string; command: string };
  lastError?: NodeProblem;
  /** The gateway's own view, for `doctor` and the card's details. */
  gateway?: GatewayHealth;
}

/** The parts of a node's config the pool reads; a whole `NodeConfig` fits. */
export type PoolNodeConfig = Pick<NodeConfig, "name" | "displayName" | "url" | "tags" | "maxConcurrent">;

/** Without a stated `intervalMs`, a mailbox-only node's status file counts as fresh for this long. */
export const DEFAULT_MAILBOX_LIVE_WINDOW_MS = 5 * 60_000;

/**
 * Codes in `NodeHealth.lastError` that the pool itself produces (gateway errors keep the
 * gateway's `CB_GATEWAY_*` codes). Stable: the card and `doctor --json` show them.
 */
export const NODE_PROBLEM_CODES = {
  noGateway: "CB_NODE_NO_GATEWAY",
  statusMissing: "CB_NODE_STATUS_MISSING",
  statusInvalid: "CB_NODE_STATUS_INVALID",
  statusStale: "CB_NODE_STATUS_STALE",
} as const satisfies Record<string, ErrorCode>;

/** How long a status file stays fresh: 2 × the node's own interval, or 5 minutes when it states none. */
export function mailboxLiveWindowMs(snapshot: Pick<NodeStatusSnapshot, "intervalMs">): number {
  return snapshot.intervalMs !== undefined && snapshot.intervalMs > 0
    ? 2 * snapshot.intervalMs
    : DEFAULT_MAILBOX_LIVE_WINDOW_MS;
}

/** What the pool knows about the shared folder's status files at its last refresh. */
export interface MailboxObservation {
  /** When the status files were read (or the read failed): liveness is judged as of then. */
  checkedAt: number;
  /** This node's status file, matched ignoring case; absent when there is none. */
  status?: NodeStatusSnapshot;
  /** Set when the last read of the status folder failed. */
  readError?: NodeProblem;
}

export interface NodeHealthInput {
  node: PoolNodeConfig;
  running: number;
  /** The current time: `offlineForMs` is measured to it. */
  now: number;
  /** Gateway nodes: `client.health()`; absent when no client was given for the node. */
  gateway?: GatewayHealth;
  /** Gateway nodes: when the pool last saw the link connected (it may know better than the client). */
  lastConnectedAt?: number;
  /** Mailbox-only nodes: the last refresh; absent before the first one. */
  mailbox?: MailboxObservation;
}

/**
 * A node's health from its config plus what is known about it: the gateway's health for a
 * node with a `url`, the status file (as of the last refresh) for a mailbox-only one. Pure:
 * the same input always gives the same answer, so the pool and tests share it.
 */
export function computeNodeHealth(input: NodeHealthInput): NodeHealth {
  const { node } = input;
  const base = {
    name: node.name,
    ...(node.displayName === undefined ? {} : { displayName: node.displayName }),
    tags: [...node.tags],
    maxConcurrent: node.maxConcurrent,
    running: input.running,
  };
  const part = node.url === undefined ? mailboxPart(input) : gatewayPart(input);
  const health: NodeHealth = { ...base, ...part };
  if (!health.healthy && health.lastSeen !== undefined) {
    health.offlineForMs = Math.max(0, input.now - health.lastSeen);
  }
  return health;
}

type HealthPart = Omit<NodeHealth, "name" | "displayName" | "tags" | "maxConcurrent" | "running">;

function gatewayPart({ node, gateway, lastConnectedAt, now }: NodeHealthInput): HealthPart {
  if (!gateway) {
    return {
      kind: "gateway",
      status: "unknown",
      healthy: false,
      ...(lastConnectedAt === undefined ? {} : { lastSeen: lastConnectedAt }),
      lastError: nodeProblem(
        NODE_PROBLEM_CODES.noGateway,
        m.text("noGatewayClient", { node: node.name }),
        m.text("noGatewayClientFix"),
      ),
    };
  }
  const status = gatewayStatus(gateway);
  const online = status === "online";
  const part: HealthPart = { kind: "gateway", status, healthy: online, gateway };
  // Connected means seen right now; otherwise the latest sign of life anyone recorded.
  const lastSeen = online ? now : latest(lastConnectedAt, gateway.lastTickAt, gateway.connectedAt);
  if (lastSeen !== undefined) part.lastSeen = lastSeen;
  if (online && gateway.latencyMs !== undefined) part.latencyMs = gateway.latencyMs;
  if (status === "pairing" && gateway.pairing) {
    part.pairing = { requestId: gateway.pairing.requestId, command: gateway.pairing.command };
  }
  // A client may keep its last error after recovering; on a healthy node it would only confuse.
  if (!online && gateway.lastError) {
    const { code, message, fix } = gateway.lastError;
    part.lastError = fix === undefined ? { code, message } : { code, message, fix };
  }
  return part;
}

/** Maps the link state to the pool's word for it. */
function gatewayStatus(gateway: GatewayHealth): NodeStatus {
  switch (gateway.state) {
    case "connected":
      return "online";
    case "pairing":
      return "pairing";
    case "auth-failed":
      return "auth-failed";
    case "connecting":
      // A retry after failures is still an outage; saying "connecting" on every attempt
      // would flip the card (and onChange) between offline and connecting each backoff.
      return gateway.failures > 0 ? "offline" : "connecting";
    case "backoff":
    case "protocol-mismatch":
    case "stopped":
      return "offline";
    case "idle":
      return "unknown";
  }
}

function mailboxPart({ node, mailbox }: NodeHealthInput): HealthPart {
  if (!mailbox) return { kind: "mailbox", status: "unknown", healthy: false };
  const { status, checkedAt, readError } = mailbox;
  if (!status) {
    return {
      kind: "mailbox",
      status: "unknown",
      healthy: false,
      lastError:
        readError ??
        nodeProblem(
          NODE_PROBLEM_CODES.statusMissing,
          m.text("statusMissing", { node: node.name }),
          m.text("statusMissingFix", { node: node.name }),
        ),
    };
  }
  const windowMs = mailboxLiveWindowMs(status);
  // Judged as of the read, not of now: between polls the file may well have been rewritten,
  // and a node writing every few seconds must not look stale just because we read every 15.
  const live = checkedAt - status.updatedAt <= windowMs;
  const part: HealthPart = {
    kind: "mailbox",
    status: live ? "mailbox-live" : "mailbox-stale",
    healthy: live,
    lastSeen: status.updatedAt,
  };
  if (status.error !== undefined) {
    // A half-written or hand-edited file still proves the node is writing (its mtime is
    // fresh), so it stays live; the problem is reported so someone can fix the writer.
    part.lastError = nodeProblem(
      NODE_PROBLEM_CODES.statusInvalid,
      m.text("statusInvalid", { file: status.node, reason: status.error }),
      m.text("statusInvalidFix", { node: node.name }),
    );
  } else if (!live) {
    part.lastError =
      readError ??
      nodeProblem(
        NODE_PROBLEM_CODES.statusStale,
        duration(
          "statusStale",
          { file: status.node, node: node.name },
          checkedAt - status.updatedAt,
          windowMs,
        ),
        m.text("statusStaleFix", { node: node.name }),
      );
  }
  return part;
}

function latest(...values: (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

/** The stale-status text, its two durations rendered in the reader's language. */
function duration(
  key: "statusStale",
  params: { file: string; node: string },
  agoMs: number,
  windowMs: number,
): LocalText {
  const say = (ms: number, locale: Locale) => {
    const whole = Math.round(ms / 60_000);
    const t = m.t(locale);
    return whole >= 1 ? t("minutes", { count: whole }) : t("seconds", { count: Math.round(ms / 1000) });
  };
  return {
    key: `nodes.${key}`,
    params: { ...params, agoMs, windowMs },
    render: (locale) =>
      m.t(locale)(key, { ...params, ago: say(agoMs, locale), window: say(windowMs, locale) }),
  };
}
