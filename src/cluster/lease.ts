import { silentLogger, systemClock, type Clock, type Logger } from "../core/index.js";
import type { Fence } from "./fence.js";
import type { RedisStore } from "./redis-client.js";
import { runScript, type LuaScript } from "./lua-script.js";

export interface LeaseOptions {
  /** The role this lease guards: `folder`, `chat`, `node:ai-pc` … */
  role: string;
  /** The replica asking (its id); must not contain `|`, which separates it from the token. */
  owner: string;
  ttlMs: number;
  clock?: Clock;
  logger?: Logger;
}

/** Who holds a role right now, as Redis says. */
export interface LeaseHolder {
  owner: string;
  token: number;
}

// KEYS[1] lease, KEYS[2] token counter; ARGV[1] owner, ARGV[2] ttl ms.
// Absent: a fresh acquisition with the next token. Ours already (a renewal that raced a
// lost reply, or a restart of this object): keep its token. Anyone else's: nil.
// A missing counter starts at Redis' clock in ms, not 0: a Redis restarted without its
// append-only file forgets the counter, and tokens must still only grow (acquisitions come
// far slower than one per millisecond).
const ACQUIRE: LuaScript = {
  name: "clawbridgeLeaseAcquire",
  keys: 2,
  lua: `
local current = redis.call("GET", KEYS[1])
if not current then
  if redis.call("EXISTS", KEYS[2]) == 0 then
    local now = redis.call("TIME")
    redis.call("SET", KEYS[2], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
  end
  local token = redis.call("INCR", KEYS[2])
  local value = ARGV[1] .. "|" .. token
  redis.call("SET", KEYS[1], value, "PX", ARGV[2])
  return value
end
local mine = ARGV[1] .. "|"
if string.sub(current, 1, #mine) == mine then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return current
end
return false
`,
};

// KEYS[1] lease; ARGV[1] the value we hold, ARGV[2] ttl ms. 1 when extended, 0 when not ours.
const RENEW: LuaScript = {
  name: "clawbridgeLeaseRenew",
  keys: 1,
  lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`,
};

// KEYS[1] lease; ARGV[1] the value we hold. Deletes only our own lease, never a successor's.
const RELEASE: LuaScript = {
  name: "clawbridgeLeaseRelease",
  keys: 1,
  lua: `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`,
};

interface Holding {
  fence: Fence;
  /** When the last successful acquire or renew was *sent*: the lease runs from no later than that. */
  since: number;
}

/**
 * A lease on one role, with a fencing token.
 *
 * Redis expires the key `ttlMs` after the last renewal; the local clock expires our belief a
 * safety margin earlier, timed from when the renewal was sent (its reply may come late).
 * So a replica paused past its lease (SIGSTOP, a long GC, a laptop lid) sees `held()` false
 * when it resumes, before it writes a file; writes through Redis are fenced by the key itself.
 */
export class Lease {
  readonly role: string;
  readonly owner: string;
  readonly ttlMs: number;
  /** How much sooner than Redis the local clock gives up the lease. */
  readonly marginMs: number;
  private readonly key: string;
  private readonly tokenKey: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private holding: Holding | undefined;

  constructor(
    private readonly store: RedisStore,
    options: LeaseOptions,
  ) {
    if (options.owner.includes("|")) throw new Error(`lease owner "${options.owner}" must not contain "|"`);
    if (!(options.ttlMs > 0)) throw new Error(`lease ttlMs must be positive, got ${options.ttlMs}`);
    this.role = options.role;
    this.owner = options.owner;
    this.ttlMs = Math.round(options.ttlMs);
    this.marginMs = Math.min(500, Math.floor(this.ttlMs / 5));
    this.key = store.key("lease", options.role);
    this.tokenKey = store.key("lease", options.role, "token");
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "lease", role: options.role });
  }

  /** The fence of the current holding (check its `held()`), or undefined when not held. */
  get fence(): Fence | undefined {
    return this.holding?.fence;
  }

  /** Takes the role if it is free (or already ours); undefined while another replica holds it. */
  async tryAcquire(): Promise<Fence | undefined> {
    const sent = this.clock.now();
    const value = await runScript(
      this.store.client,
      ACQUIRE,
      [this.key, this.tokenKey],
      [this.owner, this.ttlMs],
    );
    if (typeof value !== "string") return undefined;
    const token = parseValue(value)?.token;
    if (token === undefined) throw new Error(`lease ${this.role}: unreadable value in Redis`);
    const previous = this.holding;
    if (previous && previous.fence.value === value) {
      previous.since = Math.max(previous.since, sent);
      return previous.fence;
    }
    const holding: Holding = { fence: this.newFence(value, token), since: sent };
    this.holding = holding;
    this.log.debug({ fencingToken: token }, "lease acquired");
    return holding.fence;
  }

  /** Extends the lease; false (and the fence is dropped) when it is no longer ours. */
  async renew(): Promise<boolean> {
    const holding = this.holding;
    if (!holding) return false;
    const sent = this.clock.now();
    const extended = await runScript(this.store.client, RENEW, [this.key], [holding.fence.value, this.ttlMs]);
    if (this.holding !== holding) return false; // released meanwhile
    if (extended === 1) {
      holding.since = Math.max(holding.since, sent);
      return true;
    }
    this.holding = undefined;
    this.log.debug({ fencingToken: holding.fence.token }, "lease lost: held by another replica or expired");
    return false;
  }

  /**
   * Gives the role up at once, so the next owner need not wait for the lease to expire.
   * The local fence is dropped before Redis answers: from here on this replica does not hold it.
   */
  async release(): Promise<void> {
    const holding = this.holding;
    if (!holding) return;
    this.holding = undefined;
    await runScript(this.store.client, RELEASE, [this.key], [holding.fence.value]);
  }

  /** Who holds the role according to Redis, whoever that is. */
  async holder(): Promise<LeaseHolder | undefined> {
    const value = await this.store.client.get(this.key);
    return value === null ? undefined : parseValue(value);
  }

  private newFence(value: string, token: number): Fence {
    return {
      key: this.key,
      value,
      token,
      // An arrow function: the fence outlives this call and reads the lease's state as it is then.
      held: () => {
        const holding = this.holding;
        if (!holding || holding.fence.value !== value) return false;
        return this.clock.now() - holding.since < this.ttlMs - this.marginMs;
      },
    };
  }
}

/** `<owner>|<token>` → its parts; the owner may not contain `|`, so the last one splits. */
function parseValue(value: string): LeaseHolder | undefined {
  const bar = value.lastIndexOf("|");
  if (bar < 0) return undefined;
  const token = Number(value.slice(bar + 1));
  if (!Number.isSafeInteger(token)) return undefined;
  return { owner: value.slice(0, bar), token };
}
