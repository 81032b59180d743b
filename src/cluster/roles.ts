import { silentLogger, systemClock, type Clock, type Logger, type TimerHandle } from "../core/index.js";
import { assignGroups } from "./assignment.js";
import type { Fence } from "./fence.js";
import { Lease } from "./lease.js";
import type { RedisStore } from "./redis-client.js";
import type { ReplicaRegistry } from "./replica-registry.js";

/** Why a replica stops working for a role. */
export type ReleaseReason = "rebalance" | "lost" | "stop";

/** Roles spread over the replicas together: `node:*` are one group, the singletons another. */
export interface RoleGroup {
  name: string;
  /** Unique across groups. */
  roles: readonly string[];
}

export interface RoleManagerOptions {
  store: RedisStore;
  registry: ReplicaRegistry;
  replicaId: string;
  /** In order: a group's uneven share goes to the replicas holding fewest of the earlier groups' roles. */
  groups: readonly RoleGroup[];
  /** Lease time; ticks come every third of it. */
  ttlMs: number;
  clock?: Clock;
  logger?: Logger;
  /** Start working for `role`; every effect it has is fenced by `fence`. */
  onAcquire(role: string, fence: Fence): Promise<void>;
  /** Stop working for `role`; for "rebalance" the lease is handed over only once this resolves. */
  onRelease(role: string, reason: ReleaseReason): Promise<void>;
}

export type RolesListener = (roles: string[]) => void;

/** At most one warning per this long while Redis keeps failing. */
const WARN_EVERY_MS = 10_000;
/** A role's stop taking longer than this is logged as an error, and again after as long. */
const SLOW_RELEASE_MS = 10_000;

/**
 * Which roles this replica holds, kept in step with the others through Redis.
 *
 * Every tick: renew what it holds, heartbeat, read the live replicas, compute the same
 * assignment every replica computes ({@link assignGroups}), hand over what is now someone else's
 * (the app stops first, then the lease is deleted so the next owner need not wait for it to
 * expire), and try to take what is now its own (which fails until the previous holder has let
 * go or its lease expired: retried next tick).
 *
 * While Redis is unreachable a tick waits (commands queue until it is back), but the timer
 * keeps checking the leases by the local clock: once one runs out the app is told it lost
 * the role, before another replica can have taken it.
 */
export class RoleManager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly replicaId: string;
  private groups: readonly RoleGroup[];
  private readonly leases = new Map<string, Lease>();
  /** The roles the app was told it has (onAcquire), with their fences. */
  private readonly held = new Map<string, Fence>();
  /**
   * Roles the app is still stopping (onRelease under way): not taken again until it is done,
   * or the new term would start while the old one still runs (a lease lost by the local
   * clock is often still ours in Redis, so the very next round could take it back).
   */
  private readonly releasing = new Set<string>();
  private readonly listeners = new Set<RolesListener>();
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private runningSince = 0;
  private stopped = false;
  private lastWarned = 0;
  private suppressed = 0;

  constructor(private readonly options: RoleManagerOptions) {
    if (!(options.ttlMs > 0)) throw new Error(`role lease ttlMs must be positive, got ${options.ttlMs}`);
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "roles", replica: options.replicaId });
    this.replicaId = options.replicaId;
    this.groups = options.groups;
  }

  /** Announces this replica, then ticks every `ttlMs / 3` until {@link stop}. */
  async start(): Promise<void> {
    if (this.stopped || this.timer) return;
    await this.options.registry.heartbeat([]);
    if (this.stopped) return;
    this.timer = this.clock.setInterval(
      () => this.onTimer(),
      Math.max(1, Math.floor(this.options.ttlMs / 3)),
    );
    this.timer.unref();
  }

  /** Replaces the groups (config reloaded); the next tick hands over or takes what changed. */
  setGroups(groups: readonly RoleGroup[]): void {
    this.groups = groups;
  }

  /** The fence of `role` while this replica has it; its `held()` says whether the lease is still good. */
  holds(role: string): Fence | undefined {
    return this.held.get(role);
  }

  heldRoles(): string[] {
    return [...this.held.keys()].sort();
  }

  /** Called with the held roles whenever they change. */
  on(event: "change", listener: RolesListener): this {
    if (event === "change") this.listeners.add(listener);
    return this;
  }

  off(event: "change", listener: RolesListener): this {
    if (event === "change") this.listeners.delete(listener);
    return this;
  }

  /**
   * One round now (tests, and the timer). Rounds never overlap: this one waits for the one
   * in progress. A Redis error ends the round with a warning; the next round tries again.
   */
  async tick(): Promise<void> {
    while (this.running) await this.running;
    if (this.stopped) return;
    const run = this.round()
      .catch((error: unknown) => this.warn(error, "role round failed; retrying next tick"))
      .finally(() => {
        if (this.running === run) this.running = undefined;
      });
    this.running = run;
    this.runningSince = this.clock.now();
    await run;
  }

  /**
   * Stops ticking, tells the app to stop every role, releases the leases and leaves the
   * registry. With Redis away it gives up waiting after `ttlMs`: the leases expire anyway.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) await this.within(this.running);
    for (const role of this.heldRoles()) {
      const fence = this.held.get(role)!;
      this.held.delete(role);
      await this.callback(() => this.options.onRelease(role, "stop"), role, "stop");
      try {
        await this.within(this.lease(role).release());
        this.log.info({ role, fencingToken: fence.token, reason: "stop" }, "role released");
      } catch (error) {
        this.warn(error, "could not release a lease on stop; it expires by itself");
      }
    }
    this.emit();
    try {
      await this.within(this.options.registry.remove());
    } catch (error) {
      this.warn(error, "could not leave the replica registry on stop; the entry expires by itself");
    }
  }

  private onTimer(): void {
    if (this.stopped) return;
    if (!this.running) {
      void this.tick();
      return;
    }
    // The round in progress is waiting on Redis: skip this one, but let the local clock
    // take back what can no longer be trusted.
    void this.expireLocally();
    const waited = this.clock.now() - this.runningSince;
    if (waited >= this.options.ttlMs) this.warn(undefined, `role round waiting on Redis for ${waited} ms`);
  }

  private async round(): Promise<void> {
    await this.expireLocally();

    // Renew what we hold; what Redis refuses, or what took too long to confirm, is lost.
    // Before the heartbeat, so our registry entry always outlives our leases: once a dead
    // replica drops out of the live set its leases have run out too, and the next owner
    // gets them in that same round (failover within one lease time plus one tick).
    const renewals = await Promise.all(
      [...this.held].map(async ([role, fence]) => ({ role, fence, ok: await this.lease(role).renew() })),
    );
    for (const { role, fence, ok } of renewals) {
      if (!ok || !fence.held())
        await this.lose(role, fence, ok ? "renewal confirmed too late" : "lease taken or expired");
    }

    await this.options.registry.heartbeat(this.heldRoles());
    const live = await this.options.registry.live();
    if (this.stopped) return;
    const owners = this.desiredOwners([...new Set([this.replicaId, ...live.map((replica) => replica.id)])]);

    // Hand over what is now another replica's (or no longer anyone's: a node removed).
    for (const [role, fence] of [...this.held]) {
      if (this.stopped) return;
      const owner = owners.get(role);
      if (owner !== this.replicaId) await this.handOver(role, fence, owner);
    }

    // Take what is now ours; a lease still held by the previous owner fails until it lets go.
    const wanted = [...owners].filter(
      ([role, owner]) => owner === this.replicaId && !this.held.has(role) && !this.releasing.has(role),
    );
    const acquired = await Promise.all(
      wanted.map(async ([role]) => ({ role, fence: await this.lease(role).tryAcquire() })),
    );
    for (const { role, fence } of acquired) {
      if (!fence) continue;
      if (this.stopped) {
        await this.lease(role).release();
        continue;
      }
      this.held.set(role, fence);
      this.log.info({ role, fencingToken: fence.token }, "role acquired");
      const started = await this.callback(() => this.options.onAcquire(role, fence), role, "acquire");
      if (!started && this.held.get(role) === fence) {
        // The app could not start it: let another replica (or the next tick) try.
        this.held.delete(role);
        await this.lease(role).release();
      }
      this.emit();
    }
  }

  /** Role → the replica that should hold it, over every group. */
  private desiredOwners(replicas: string[]): Map<string, string> {
    return assignGroups(this.groups, replicas);
  }

  /** Drops every role whose lease the local clock no longer vouches for. */
  private async expireLocally(): Promise<void> {
    for (const [role, fence] of [...this.held]) {
      if (!fence.held()) await this.lose(role, fence, "lease ran out by the local clock");
    }
  }

  private async lose(role: string, fence: Fence, why: string): Promise<void> {
    if (this.held.get(role) !== fence) return; // already dropped (the timer and a round both saw it)
    this.held.delete(role);
    this.log.warn({ role, fencingToken: fence.token, why }, "role lost");
    this.emit();
    await this.releasingWhile(role, () => this.options.onRelease(role, "lost"), "lost");
    // If Redis still has it as ours, free it for the next owner. Not awaited: with Redis
    // away this waits until it is back, and the value names only our own, old lease.
    this.lease(role)
      .release()
      .catch((error: unknown) => this.warn(error, "could not release a lost lease; it expires by itself"));
  }

  private async handOver(role: string, fence: Fence, to: string | undefined): Promise<void> {
    if (this.held.get(role) !== fence) return;
    this.held.delete(role);
    this.emit();
    // The app stops first; only then may the next owner start.
    await this.releasingWhile(role, () => this.options.onRelease(role, "rebalance"), "rebalance");
    await this.lease(role).release();
    this.log.info({ role, fencingToken: fence.token, reason: "rebalance", to: to ?? null }, "role released");
  }

  private lease(role: string): Lease {
    let lease = this.leases.get(role);
    if (!lease) {
      lease = new Lease(this.options.store, {
        role,
        owner: this.replicaId,
        ttlMs: this.options.ttlMs,
        clock: this.clock,
        logger: this.options.logger,
      });
      this.leases.set(role, lease);
    }
    return lease;
  }

  /** Runs the app's onRelease with the role marked as being released. */
  private async releasingWhile(role: string, run: () => Promise<void>, what: string): Promise<boolean> {
    this.releasing.add(role);
    // The role is not taken again until its work has stopped: a stop that hangs (on a Redis
    // command that never settles) keeps it from everyone, so it is said, loudly and often.
    const since = this.clock.now();
    const slow = this.clock.setInterval(() => {
      const waited = this.clock.now() - since;
      this.log.error(
        { role, waited, what },
        `stopping the role's work has taken ${waited} ms; the role stays free until it ends`,
      );
    }, SLOW_RELEASE_MS);
    slow.unref();
    try {
      return await this.callback(run, role, what);
    } finally {
      this.clock.clearInterval(slow);
      this.releasing.delete(role);
    }
  }

  /** Runs an app callback; its failure is logged, not thrown (the roles must stay consistent). */
  private async callback(run: () => Promise<void>, role: string, what: string): Promise<boolean> {
    try {
      await run();
      return true;
    } catch (error) {
      this.log.error({ role, err: error, what }, "role callback failed");
      return false;
    }
  }

  /** Waits for `promise`, at most `ttlMs`. */
  private async within(promise: Promise<unknown>): Promise<void> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, this.options.ttlMs);
      timer.unref();
    });
    try {
      await Promise.race([promise.then(() => undefined), timeout]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  private emit(): void {
    const roles = this.heldRoles();
    for (const listener of this.listeners) {
      try {
        listener(roles);
      } catch (error) {
        this.log.error({ err: error }, "roles listener failed");
      }
    }
  }

  private warn(error: unknown, message: string): void {
    const now = this.clock.now();
    if (now - this.lastWarned < WARN_EVERY_MS) {
      this.suppressed++;
      return;
    }
    this.lastWarned = now;
    const err = error instanceof Error ? { message: error.message } : undefined;
    this.log.warn({ err, suppressed: this.suppressed }, message);
    this.suppressed = 0;
  }
}
