import { RedisStore, ReplicaRegistry } from "../../cluster/index.js";
import type { LoadedConfig } from "../../config/index.js";
import { packageVersion, systemClock } from "../../core/index.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";

/** Doctor waits this long for Redis: it answers within milliseconds when it is there. */
const CONNECT_TIMEOUT_MS = 3_000;
/** Replicas last seen longer ago than this are left out (the registry keeps a day). */
const SHOWN_FOR_MS = 60 * 60_000;

/**
 * The Redis store: whether Redis answers, and every replica of the team with its host, its
 * roles and when it last said it was alive (the ones that stopped within the last hour too).
 */
export async function checkReplicas(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
  const redis = loaded.config.state.redis;
  if (loaded.config.state.store !== "redis" || !redis) return [];
  const base = { section: "redis", id: "redis.connect", label: ctx.t("checkRedisConnect") };
  const store = new RedisStore({ url: redis.url, keyPrefix: redis.keyPrefix, name: "clawbridge:doctor" });
  try {
    try {
      await store.ready(CONNECT_TIMEOUT_MS);
    } catch {
      return [{ ...base, ok: false, detail: ctx.t("redisUnreachable"), fix: ctx.t("redisUnreachableFix") }];
    }
    const checks: DoctorCheck[] = [{ ...base, ok: true, detail: ctx.t("redisConnected") }];
    const registry = new ReplicaRegistry(store, {
      id: "doctor",
      host: "doctor",
      pid: process.pid,
      version: packageVersion(),
      ttlMs: redis.leaseMs,
    });
    // The replicas stamp their heartbeats with their own real time.
    const now = systemClock.now();
    const replicas = (await registry.list()).filter((r) => r.alive || now - r.heartbeatAt < SHOWN_FOR_MS);
    if (replicas.length === 0) {
      checks.push({
        section: "redis",
        id: "redis.replicas",
        label: ctx.t("checkReplicas"),
        ok: true,
        warning: true,
        detail: ctx.t("replicasNone"),
        fix: ctx.t("replicasNoneFix"),
      });
    }
    for (const replica of replicas) {
      const ago = Math.max(0, Math.round((now - replica.heartbeatAt) / 1000));
      checks.push({
        section: "redis",
        id: `redis.replica.${replica.id}`,
        label: ctx.t("checkReplica", { id: replica.id }),
        ok: true,
        ...(replica.alive ? {} : { warning: true }),
        detail: ctx.t(replica.alive ? "replicaAlive" : "replicaGone", {
          host: replica.host,
          pid: replica.pid,
          version: replica.version,
          roles: replica.roles.join(", ") || ctx.t("replicaNoRoles"),
          ago,
        }),
      });
    }
    return checks;
  } finally {
    await store.close();
  }
}
