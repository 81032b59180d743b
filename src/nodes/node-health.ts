import type { ErrorCode } from "../core/index.js";
import type { NodeConfig } from "../config/index.js";
import type { GatewayHealth } from "../gateway/index.js";
import type { NodeStatusSnapshot } from "../mailbox/index.js";

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

/** What went wrong last, said so a person can act on it. */
export interface NodeProblem {
  code: string;
  message: string;
  fix?: string;
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
      lastError: {
        code: NODE_PROBLEM_CODES.noGateway,
        message: `node ${node.name} has a url but no gateway client`,
        fix: "this is a bug in how clawbridge was started; please report it with the log",
      },
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
      lastError: readError ?? {
        code: NODE_PROBLEM_CODES.statusMissing,
        message: `no status/${node.name}.json in the shared folder`,
        fix: `have the agent on ${node.name} write status/${node.name}.json regularly (with "updatedAt" and "intervalMs")`,
      },
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
    part.lastError = {
      code: NODE_PROBLEM_CODES.statusInvalid,
      message: `status/${status.node}.json could not be read: ${status.error}`,
      fix: `have the agent on ${node.name} write one JSON object, replacing the file as a whole`,
    };
  } else if (!live) {
    part.lastError = readError ?? {
      code: NODE_PROBLEM_CODES.statusStale,
      message: `status/${status.node}.json was last updated ${minutes(checkedAt - status.updatedAt)} ago (expected within ${minutes(windowMs)})`,
      fix: `check that the agent on ${node.name} is running and can reach the shared folder`,
    };
  }
  return part;
}

function latest(...values: (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

function minutes(ms: number): string {
  const whole = Math.round(ms / 60_000);
  return whole >= 1 ? `${whole} min` : `${Math.round(ms / 1000)} s`;
}
