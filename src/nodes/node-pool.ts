// Longer than our usual file: the pool's three sources (gateway states, status files, task
// leases) feed one set of entries whose health must be recomputed together.
import {
  ClawbridgeError,
  isClawbridgeError,
  literalText,
  nodeKey,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from "../core/index.js";
import type { GatewayClient, GatewayHealth } from "../gateway/index.js";
import type { MailboxStore, NodeStatusSnapshot } from "../mailbox/index.js";
import { nodesMessages } from "./messages.js";
import {
  computeNodeHealth,
  nodeProblem,
  type MailboxObservation,
  type NodeHealth,
  type NodeProblem,
  type PoolNodeConfig,
} from "./node-health.js";
import { selectNode, type SelectQuery, type Selection } from "./node-selection.js";

export interface NodePoolOptions {
  /** In config order: `health()` and ties in selection keep it. */
  nodes: readonly PoolNodeConfig[];
  /** One client per node with a `url`, keyed by node name. */
  gateways?: ReadonlyMap<string, GatewayClient>;
  /** Where mailbox-only nodes' status files come from. */
  mailbox?: Pick<MailboxStore, "readStatuses">;
  clock?: Clock;
  logger?: Logger;
}

/** One task slot on a node; `release()` gives it back (calling it again does nothing). */
export interface Lease {
  readonly node: string;
  readonly released: boolean;
  release(): void;
}

/** A node whose status (or pending pairing request) changed; `previous` is what was last reported. */
export interface NodeChange {
  node: NodeHealth;
  previous: NodeHealth;
}

export type NodeChangeListener = (change: NodeChange) => void;

interface Entry {
  config: PoolNodeConfig;
  key: string;
  tags: string[];
  running: number;
  gateway: GatewayClient | undefined;
  /** Gateway nodes: when the pool last saw the link connected, and the state it saw last. */
  lastConnectedAt?: number;
  lastState?: GatewayHealth["state"];
}

/**
 * The node pool: health from gateways, liveness from status files, task load, and the
 * choice of a node for a task. Gateway health is read live on every call; status files
 * are read by `refreshMailboxLiveness()`, which `start()` runs on a timer.
 */
export class NodePool {
  private readonly entries: Entry[];
  private readonly byKey = new Map<string, Entry>();
  private readonly mailbox: Pick<MailboxStore, "readStatuses"> | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly listeners = new Set<NodeChangeListener>();
  /** What each node looked like when last reported, to fire `onChange` on real changes only. */
  private readonly reported = new Map<string, NodeHealth>();
  private statuses: Map<string, NodeStatusSnapshot> | undefined;
  private checkedAt = 0;
  private readError: NodeProblem | undefined;
  private refreshing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private detach: (() => void)[] = [];
  private started = false;
  /** Bumped by start/stop so a poll scheduled before a restart does not run twice. */
  private generation = 0;

  constructor(options: NodePoolOptions) {
    this.mailbox = options.mailbox;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "nodes" });
    const gateways = new Map<string, GatewayClient>();
    for (const [name, client] of options.gateways ?? []) gateways.set(nodeKey(name), client);
    this.entries = options.nodes.map((config) => {
      const key = nodeKey(config.name);
      if (this.byKey.has(key)) {
        // The config schema already refuses this; a second entry would split one node's load.
        throw new ClawbridgeError(
          "CB_CONFIG_INVALID",
          nodesMessages.text("duplicateNode", { node: config.name }),
          {
            fix: nodesMessages.text("duplicateNodeFix"),
            expose: true,
          },
        );
      }
      const entry: Entry = {
        config,
        key,
        tags: [...config.tags],
        running: 0,
        gateway: config.url === undefined ? undefined : gateways.get(key),
      };
      this.byKey.set(key, entry);
      return entry;
    });
    for (const entry of this.entries) this.reported.set(entry.key, this.compute(entry));
  }

  /** Every node, in config order. */
  health(): NodeHealth[] {
    return this.entries.map((entry) => this.compute(entry));
  }

  /** One node by name, ignoring case; undefined when it is not configured. */
  healthOf(name: string): NodeHealth | undefined {
    const entry = this.byKey.get(nodeKey(name));
    return entry && this.compute(entry);
  }

  /** Picks a node for a task (see `selectNode`); does not take the slot. */
  select(query: SelectQuery = {}): Selection {
    return selectNode(this.health(), query);
  }

  /** Tasks the pool counts as running on the node (0 for an unknown name). */
  running(name: string): number {
    return this.byKey.get(nodeKey(name))?.running ?? 0;
  }

  /**
   * Takes a task slot on the node if one is free (`running < maxConcurrent`), whatever
   * its health: the caller decided (usually through `select`). Undefined when full or unknown.
   */
  acquire(name: string): Lease | undefined {
    const entry = this.byKey.get(nodeKey(name));
    if (!entry || entry.running >= entry.config.maxConcurrent) return undefined;
    entry.running += 1;
    let released = false;
    return {
      node: entry.config.name,
      get released() {
        return released;
      },
      release: () => {
        // Idempotent: a task's finally-block and its cancel path may both release.
        if (released) return;
        released = true;
        entry.running -= 1;
      },
    };
  }

  /** Replaces a node's tags (SIGHUP reload); false when no such node is configured. */
  updateTags(name: string, tags: readonly string[]): boolean {
    const entry = this.byKey.get(nodeKey(name));
    if (!entry) return false;
    const before = entry.tags;
    entry.tags = [...tags];
    this.log.info({ node: entry.config.name, before, after: entry.tags }, "node tags updated");
    return true;
  }

  /** Called whenever a node's status changes (gateway link or status-file liveness); returns unsubscribe. */
  onChange(listener: NodeChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the status files and re-judges mailbox-only nodes as of now. A failed read is
   * logged and kept as the nodes' last error, never thrown: the old snapshots stay and age.
   */
  refreshMailboxLiveness(): Promise<void> {
    // One read at a time: a slow share must not pile up overlapping directory scans.
    this.refreshing ??= this.readStatuses().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Follows gateway state changes and polls status files every `statusPollMs`. Resolves
   * after the first status read, so mailbox-only nodes are not "unknown" right after start.
   */
  start({ statusPollMs = 15_000 }: { statusPollMs?: number } = {}): Promise<void> {
    if (this.started) return this.refreshing ?? Promise.resolve();
    this.started = true;
    const generation = ++this.generation;
    for (const entry of this.entries) {
      if (!entry.gateway) continue;
      this.detach.push(entry.gateway.onState((health) => this.report(entry, this.compute(entry, health))));
    }
    const tick = () => {
      void this.refreshMailboxLiveness().finally(() => {
        if (!this.started || generation !== this.generation) return;
        this.timer = setTimeout(tick, statusPollMs);
        // The bridge's servers keep the process alive; this poll alone should not.
        this.timer.unref();
      });
    };
    tick();
    return this.refreshing ?? Promise.resolve();
  }

  /** Stops the poll and stops following gateways; `health()` keeps answering. */
  stop(): void {
    this.started = false;
    this.generation += 1;
    clearTimeout(this.timer);
    for (const detach of this.detach.splice(0)) detach();
  }

  private compute(entry: Entry, gatewayHealth?: GatewayHealth): NodeHealth {
    const now = this.clock.now();
    const config = { ...entry.config, tags: entry.tags };
    if (entry.config.url === undefined) {
      return computeNodeHealth({ node: config, running: entry.running, now, mailbox: this.observe(entry) });
    }
    const gateway = gatewayHealth ?? entry.gateway?.health();
    if (gateway) this.trackLink(entry, gateway, now);
    return computeNodeHealth({
      node: config,
      running: entry.running,
      now,
      gateway,
      lastConnectedAt: entry.lastConnectedAt,
    });
  }

  /** Remembers when the link was last up: a client may forget `connectedAt` once it drops. */
  private trackLink(entry: Entry, gateway: GatewayHealth, now: number): void {
    if (gateway.state === "connected" || entry.lastState === "connected") entry.lastConnectedAt = now;
    entry.lastState = gateway.state;
  }

  private observe(entry: Entry): MailboxObservation | undefined {
    if (!this.statuses) {
      return this.readError ? { checkedAt: this.checkedAt, readError: this.readError } : undefined;
    }
    const status = this.statuses.get(entry.key);
    return {
      checkedAt: this.checkedAt,
      ...(status ? { status } : {}),
      ...(this.readError ? { readError: this.readError } : {}),
    };
  }

  private async readStatuses(): Promise<void> {
    if (!this.mailbox) return;
    try {
      const snapshots = await this.mailbox.readStatuses();
      const byKey = new Map<string, NodeStatusSnapshot>();
      for (const snapshot of snapshots) {
        const key = nodeKey(snapshot.node);
        const known = byKey.get(key);
        // On a case-sensitive share two spellings can coexist; the newer one is the node's.
        if (!known || snapshot.updatedAt > known.updatedAt) byKey.set(key, snapshot);
      }
      this.statuses = byKey;
      this.readError = undefined;
    } catch (error) {
      const reason = isClawbridgeError(error)
        ? error.text
        : literalText(String((error as Error)?.message ?? error));
      this.readError = nodeProblem(
        isClawbridgeError(error) ? error.code : "CB_MAILBOX_IO",
        nodesMessages.text("statusUnreadable", { reason }),
        (isClawbridgeError(error) ? error.fixText : undefined) ?? nodesMessages.text("statusUnreadableFix"),
      );
      this.log.warn({ err: error }, "reading status files failed; keeping the last ones");
    }
    this.checkedAt = this.clock.now();
    for (const entry of this.entries) {
      if (entry.config.url === undefined) this.report(entry, this.compute(entry));
    }
  }

  private report(entry: Entry, health: NodeHealth): void {
    // Every node gets a baseline in the constructor; `?? health` only satisfies the type.
    const previous = this.reported.get(entry.key) ?? health;
    this.reported.set(entry.key, health);
    if (signature(previous) === signature(health)) return;
    this.log.info(
      { node: health.name, from: previous.status, to: health.status, error: health.lastError?.code },
      `node ${health.name}: ${previous.status} → ${health.status}`,
    );
    for (const listener of [...this.listeners]) {
      try {
        listener({ node: health, previous });
      } catch (error) {
        // One broken listener must not stop the others, nor the gateway client calling us.
        this.log.error({ err: error, node: health.name }, "node change listener failed");
      }
    }
  }
}

/** What counts as a change: status and health, and a new pairing request (its card is patched). */
function signature(health: NodeHealth): string {
  return `${health.status}|${health.healthy}|${health.pairing?.requestId ?? ""}`;
}
