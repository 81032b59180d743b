import {
  RoleManager,
  type Fence,
  type RedisStore,
  type ReleaseReason,
  type ReplicaRegistry,
} from "../cluster/index.js";
import type { Clock, Logger } from "../core/index.js";

/** The shared folder's one reader: the tailer (its cursors in Redis) and the status file. */
export const FOLDER_ROLE = "folder";
/**
 * The inboxes' one writer: the outbox of inbox appends (answers, mirrors), in order per inbox.
 * Apart from "folder" (see the "folder" group below): on the folder's reader, every answer
 * appended competed with the lines still to be read for one process.
 */
export const INBOXES_ROLE = "inboxes";
/** Posts to Feishu chats, one replica so each chat's posts keep their order. */
export const CHAT_ROLE = "chat";
/** Commands, buttons, the task queue and its cards: the task layer, on one replica. */
export const TASKS_ROLE = "tasks";

/** A node's gateway connection, its deliveries and what its agent says. */
export function nodeRole(node: string): string {
  return `node:${node}`;
}

/**
 * The roles the replicas share, in the groups each spread evenly over them, in this order
 * (see `assignGroups`): the folder's reader and the inboxes' writer work for every node's
 * traffic, so nodes that do not divide evenly go to replicas holding neither.
 */
export function roleGroups(gatewayNodes: readonly string[]): { name: string; roles: string[] }[] {
  return [
    // Two roles in a group of their own go to two replicas whenever there are two: the
    // bounded assignment gives each replica at most one of them.
    { name: "folder", roles: [FOLDER_ROLE, INBOXES_ROLE] },
    { name: "nodes", roles: gatewayNodes.map(nodeRole) },
    { name: "singletons", roles: [CHAT_ROLE, TASKS_ROLE] },
  ];
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
  /** The part behind each role (folder, inboxes, chat, tasks, node:<name>). */
  part(role: string): RolePart;
  /** Told of every change, for metrics and logs. */
  onChange?(role: string, change: "acquired" | ReleaseReason): void;
  logger: Logger;
  clock?: Clock;
}

/**
 * The roles of one replica among several (README "Running more than one bridge"): the
 * nodes' gateways spread evenly over the live replicas, the four single roles (folder,
 * inboxes, chat, tasks) spread too (folder and inboxes never on one replica while there are two), each held by a lease whose fencing token goes with every write
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
      groups: roleGroups(options.gatewayNodes),
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
