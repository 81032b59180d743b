import {
  RoleManager,
  type Fence,
  type RedisStore,
  type ReleaseReason,
  type ReplicaRegistry,
} from "../cluster/index.js";
import type { Clock, Logger } from "../core/index.js";

/** The shared folder's one reader and writer: the tailer, inbox appends, the status file. */
export const FOLDER_ROLE = "folder";
/** Posts to Feishu chats, one replica so each chat's posts keep their order. */
export const CHAT_ROLE = "chat";
/** Commands, buttons, the task queue and its cards: the task layer, on one replica. */
export const TASKS_ROLE = "tasks";

/** A node's gateway connection, its deliveries and what its agent says. */
export function nodeRole(node: string): string {
  return `node:${node}`;
}

/** What a replica does while it holds a role; `stop` undoes it (the next owner carries on). */
export interface RolePart {
  start(fence: Fence): Promise<void>;
  stop(reason: ReleaseReason): Promise<void>;
}

export interface ReplicaRolesOptions {
  store: RedisStore;
  registry: ReplicaRegistry;
  replicaId: string;
  /** `state.redis.leaseMs`. */
  leaseMs: number;
  /** Nodes with a gateway: one `node:<name>` role each, spread evenly over the replicas. */
  gatewayNodes: readonly string[];
  /** The part behind each role (folder, chat, tasks, node:<name>). */
  part(role: string): RolePart;
  /** Told of every change, for metrics and logs. */
  onChange?(role: string, change: "acquired" | ReleaseReason): void;
  logger: Logger;
  clock?: Clock;
}

/**
 * The roles of one replica among several (README "Running more than one bridge"): the
 * nodes' gateways spread evenly over the live replicas, the three single roles (folder,
 * chat, tasks) spread too, each held by a lease whose fencing token goes with every write
 * the role makes. A role whose holder dies moves to another replica once its lease runs out.
 */
export class ReplicaRoles {
  private readonly manager: RoleManager;
  /**
   * The part started for each held role: `options.part` builds a new one per call, and only
   * the one that was started knows what to stop (its gateway client, host, tailer, timers).
   */
  private readonly parts = new Map<string, RolePart>();

  constructor(private readonly options: ReplicaRolesOptions) {
    this.manager = new RoleManager({
      store: options.store,
      registry: options.registry,
      replicaId: options.replicaId,
      groups: [
        { name: "nodes", roles: options.gatewayNodes.map(nodeRole) },
        { name: "singletons", roles: [FOLDER_ROLE, CHAT_ROLE, TASKS_ROLE] },
      ],
      ttlMs: options.leaseMs,
      ...(options.clock ? { clock: options.clock } : {}),
      logger: options.logger,
      onAcquire: async (role, fence) => {
        const part = options.part(role);
        this.parts.set(role, part);
        await part.start(fence);
        options.onChange?.(role, "acquired");
      },
      onRelease: async (role, reason) => {
        const part = this.parts.get(role);
        this.parts.delete(role);
        try {
          await part?.stop(reason);
        } finally {
          options.onChange?.(role, reason);
        }
      },
    });
  }

  /** Joins and takes what is free at once: the first replica starts with every role in hand. */
  async start(): Promise<void> {
    await this.manager.start();
    await this.manager.tick();
  }

  stop(): Promise<void> {
    return this.manager.stop();
  }

  /** The roles this replica holds now, sorted. */
  held(): string[] {
    return this.manager.heldRoles().sort();
  }

  holds(role: string): Fence | undefined {
    return this.manager.holds(role);
  }
}
