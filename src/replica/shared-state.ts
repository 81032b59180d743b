import os from "node:os";
import {
  newReplicaId,
  RedisJournal,
  RedisStore,
  ReplicaRegistry,
  SharedEventDedup,
  SharedRateLimiter,
  type Fence,
} from "../cluster/index.js";
import type { Config } from "../config/index.js";
import {
  ClawbridgeError,
  packageVersion,
  systemClock,
  type Clock,
  type JournalFactory,
  type Logger,
} from "../core/index.js";
import type { DeviceIdentity } from "../gateway/index.js";
import { RedisOutbox, type OutboxShape, type RelayAction } from "../relay/index.js";
import { IntakeForwarder } from "./intake-forwarder.js";
import { replicaMessages } from "./messages.js";
import { sharedDeviceIdentity, SharedDeviceTokens } from "./shared-identity.js";

/** How long the first connection to Redis may take before the start fails with the reason. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Everything the replicas share, built once per replica from `state.redis`. */
export interface SharedState {
  store: RedisStore;
  replicaId: string;
  registry: ReplicaRegistry;
  leaseMs: number;
  claimIdleMs: number;
  dedup: SharedEventDedup;
  limits: SharedRateLimiter;
  intake: IntakeForwarder;
  identity: DeviceIdentity;
  deviceTokens: SharedDeviceTokens;
  /** The relay's outboxes: one stream per target. */
  outboxes(target: string, shape: OutboxShape): RedisOutbox<RelayAction>;
  /** A journal in Redis (`journal:<name>`), written only while `fence` gives a held fence. */
  journal(name: string, fence?: () => Fence | undefined): JournalFactory;
  close(): Promise<void>;
}

export async function openSharedState(
  config: Config,
  options: { logger: Logger; clock?: Clock },
): Promise<SharedState> {
  const redis = config.state.redis;
  if (!redis) throw new ClawbridgeError("CB_USAGE", replicaMessages.text("redisMissing"));
  const clock = options.clock ?? systemClock;
  const host = os.hostname();
  const replicaId = newReplicaId(host, process.pid);
  const store = new RedisStore({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    logger: options.logger,
    name: `clawbridge:${replicaId}`,
  });
  try {
    await store.ready(CONNECT_TIMEOUT_MS);
  } catch (error) {
    await store.close();
    throw new ClawbridgeError(
      "CB_REDIS_UNREACHABLE",
      replicaMessages.text("redisUnreachable", { ms: CONNECT_TIMEOUT_MS }),
      { fix: replicaMessages.text("redisUnreachableFix"), cause: error },
    );
  }
  const registry = new ReplicaRegistry(store, {
    id: replicaId,
    host,
    pid: process.pid,
    version: packageVersion(),
    ttlMs: redis.leaseMs,
    clock,
  });
  const intake = new IntakeForwarder({
    store,
    consumer: replicaId,
    claimIdleMs: redis.claimIdleMs,
    logger: options.logger,
    clock,
  });
  await intake.load();
  const identity = await sharedDeviceIdentity(store, config.state.dir, clock);
  return {
    store,
    replicaId,
    registry,
    leaseMs: redis.leaseMs,
    claimIdleMs: redis.claimIdleMs,
    dedup: new SharedEventDedup(store),
    limits: new SharedRateLimiter(store),
    intake,
    identity,
    deviceTokens: new SharedDeviceTokens(store, clock),
    outboxes: (target, shape) =>
      new RedisOutbox<RelayAction>({
        store,
        target,
        capacity: shape.capacity,
        laneOf: shape.laneOf,
        ...(shape.readLingerMs !== undefined ? { readLingerMs: shape.readLingerMs } : {}),
        logger: options.logger,
        clock,
        consumer: replicaId,
        claimIdleMs: redis.claimIdleMs,
      }),
    journal: (name, fence) => (journalOptions) =>
      new RedisJournal(store, {
        ...journalOptions,
        logger: options.logger,
        name,
        ...(fence ? { fence } : {}),
      }),
    close: async () => {
      await intake.close();
      await store.close();
    },
  };
}
