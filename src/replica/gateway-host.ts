// Longer than our usual file: the heartbeat (health, the touch of what is served, Redis' time)
// and the serving of the four kinds of request share the table of requests in service.
import {
  FENCE_CHECK_LUA,
  isFencedError,
  runScript,
  type Fence,
  type LuaScript,
  type RedisStore,
  entryTime,
  errorText,
  type RawEntry,
} from "../cluster/index.js";
import {
  ClawbridgeError,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import type { GatewayClient, RunEvent, RunHandle } from "../gateway/index.js";
import {
  gatewayKeys,
  HEALTH_TTL_MS,
  HOSTS_GROUP,
  parseHostRequest,
  replyKey,
  type GatewayKeys,
  type HealthRecord,
  type HostRequest,
  type ReplyEntry,
} from "./gateway-wire.js";
import { remoteGatewayMessages } from "./gateway-messages.js";
import { ReplyWriter } from "./reply-writer.js";
import { RequestConsumer } from "./request-consumer.js";
import { errorToWire } from "./wire-errors.js";

export interface GatewayHostOptions {
  store: RedisStore;
  node: string;
  /** The node's own client: this replica holds the node's role, so it holds the link. */
  gateway: GatewayClient;
  /** The `node:<name>` role's fence: every write checks it. */
  fence: Fence;
  /** This replica's id: its consumer name in the request group. */
  consumer: string;
  /** How long a request another host took must lie idle before this one serves it. */
  claimIdleMs: number;
  logger?: Logger;
  clock?: Clock;
}

/** Health is published at least this often; requests in service are touched well within `claimIdleMs`. */
const HEARTBEAT_MS = 1_000;
const DEFAULT_RUN_TIMEOUT_MS = 30 * 60_000;
/** What a `request` waits by default, as the local client does. */
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** How long `stop()` gives queued replies to reach Redis. */
const STOP_FLUSH_MS = 1_000;
/** Requests handed over are marked idle this long: past any `claimIdleMs` the next owner may have. */
const HANDED_OVER_IDLE_MS = 24 * 60 * 60_000;

// KEYS: lease, health, request stream. ARGV: fence value, health JSON, ttl ms, group,
// consumer, idle ms, then the entry ids in service. Publishes the health and touches every
// request in service (XCLAIM to ourselves resets its idle time, so no other host takes over
// a run that is merely long); idle ms > 0 instead marks them idle that long, so the next
// owner takes them at once (a clean stop). Answers Redis' time, the clock entry ids use.
const HEARTBEAT: LuaScript = {
  name: "clawbridgeGatewayHeartbeat",
  keys: 3,
  lua: `${FENCE_CHECK_LUA}
if ARGV[2] ~= "" then
  redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3])
else
  redis.call("DEL", KEYS[2])
end
if #ARGV >= 7 then
  -- unpack() gives all its values only as the last argument: the options go in the table too.
  local args = {KEYS[3], ARGV[4], ARGV[5], 0}
  for i = 7, #ARGV do args[#args + 1] = ARGV[i] end
  args[#args + 1] = "IDLE"
  args[#args + 1] = ARGV[6]
  args[#args + 1] = "JUSTID"
  redis.pcall("XCLAIM", unpack(args))
end
local now = redis.call("TIME")
return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
`,
};

/** One request this host serves. */
interface Serving {
  request: HostRequest;
  entryId: string;
  handle?: RunHandle;
  off?: () => void;
}

/**
 * The owner's side of a node's gateway for the other replicas: publishes the gateway's
 * health and serves the requests other replicas put in the node's request stream (runs,
 * re-attachments, aborts, plain requests), writing each answer to the request's reply stream.
 *
 * A request is acknowledged together with its final answer; until then it is pending in the
 * group under this host, which touches it well within `claimIdleMs`. If the host dies, the
 * next owner of the node takes it over once idle `claimIdleMs` and serves it again: a run whose reply stream
 * already has entries (the gateway accepted it) is re-attached by its id, one that has none is
 * sent again with the same idempotency key (the gateway never starts a second run for a key).
 * That is the rule the local client follows after a reconnect.
 *
 * Stop the host before the gateway client: a run the stopping client fails is the next
 * owner's to follow, not an error to report.
 */
export class GatewayHost {
  readonly node: string;
  private readonly store: RedisStore;
  private readonly gateway: GatewayClient;
  private readonly fence: Fence;
  private readonly consumer: string;
  private readonly claimIdleMs: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly keys: GatewayKeys;
  private readonly writer: ReplyWriter;
  private readonly requests: RequestConsumer;
  private readonly serving = new Map<string, Serving>();
  private offState?: () => void;
  private timer?: TimerHandle;
  private beating: Promise<void> | undefined;
  private beatAgain = false;
  /** Redis' clock minus ours, from the last heartbeat: how old a request's entry id is. */
  private redisOffsetMs = 0;
  private state: "new" | "started" | "stopped" = "new";

  constructor(options: GatewayHostOptions) {
    if (!(options.claimIdleMs > 0)) throw new RangeError("claimIdleMs must be positive");
    this.node = options.node;
    this.store = options.store;
    this.gateway = options.gateway;
    this.fence = options.fence;
    this.consumer = options.consumer;
    this.claimIdleMs = options.claimIdleMs;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({
      component: "replica.gateway-host",
      node: options.node,
    });
    this.keys = gatewayKeys(options.store, options.node);
    this.writer = new ReplyWriter({
      store: options.store,
      requests: this.keys.requests,
      fence: options.fence,
      clock: this.clock,
      log: this.log,
      fenced: () => this.fenced(),
    });
    this.requests = new RequestConsumer({
      store: options.store,
      stream: this.keys.requests,
      consumer: options.consumer,
      fence: options.fence,
      claimIdleMs: options.claimIdleMs,
      log: this.log,
      deliver: (entries) => this.deliver(entries),
    });
  }

  /** Publishes the health (now, on every change, at least every second) and starts serving; resolves at once. */
  start(): Promise<void> {
    if (this.state !== "new") return Promise.resolve();
    this.state = "started";
    this.offState = this.gateway.onState(() => this.beat());
    this.beat();
    const every = Math.max(30, Math.min(HEARTBEAT_MS, this.claimIdleMs / 3));
    this.timer = this.clock.setInterval(() => this.beat(), every);
    this.timer.unref();
    this.requests.start();
    return Promise.resolve();
  }

  /**
   * Stops serving: the health key goes (the others see no host at once) and what is in
   * service is marked idle, so the next owner takes it over without waiting. Replies already
   * queued get a moment to reach Redis.
   */
  async stop(): Promise<void> {
    if (this.state !== "started") {
      this.state = "stopped";
      return;
    }
    this.state = "stopped";
    this.offState?.();
    this.clock.clearInterval(this.timer);
    for (const serving of this.serving.values()) serving.off?.();
    await this.requests.stop();
    await this.writer.stop(STOP_FLUSH_MS);
    // Commands wait through a Redis outage: a stop does not wait for its end.
    await within(this.clock, this.beating, STOP_FLUSH_MS);
    const ids = [...this.serving.values()].map((s) => s.entryId);
    this.serving.clear();
    const handOver = this.heartbeat("", ids, HANDED_OVER_IDLE_MS).catch((error: unknown) =>
      this.log.warn({ err: { message: errorText(error) } }, "could not hand the node's requests over"),
    );
    await within(this.clock, handOver, STOP_FLUSH_MS);
  }

  // ── the heartbeat ────────────────────────────────────────────────────────

  /** A heartbeat now, or right after the one in flight (state changes come in bursts). */
  private beat(): void {
    if (this.state !== "started") return;
    if (this.beating) {
      this.beatAgain = true;
      return;
    }
    const record: HealthRecord = { health: this.gateway.health(), host: this.consumer, at: this.clock.now() };
    const ids = [...this.serving.values()].map((s) => s.entryId);
    this.beating = this.heartbeat(JSON.stringify(record), ids, 0)
      .catch((error: unknown) => {
        if (isFencedError(error)) return this.fenced();
        this.log.warn({ err: { message: errorText(error) } }, "could not publish the gateway's health");
      })
      .finally(() => {
        this.beating = undefined;
        if (!this.beatAgain) return;
        this.beatAgain = false;
        this.beat();
      });
  }

  private async heartbeat(health: string, ids: string[], idleMs: number): Promise<void> {
    const sent = this.clock.now();
    const redisNow = await runScript(
      this.store.client,
      HEARTBEAT,
      [this.fence.key, this.keys.health, this.keys.requests],
      [this.fence.value, health, HEALTH_TTL_MS, HOSTS_GROUP, this.consumer, idleMs, ...ids],
    );
    if (typeof redisNow === "number") this.redisOffsetMs = redisNow - (sent + this.clock.now()) / 2;
  }

  /** The lease moved on: another replica owns the node now, and serves what this one did. */
  private fenced(): void {
    if (this.state !== "started") return;
    this.log.error("the node's role is held by another replica now; no longer serving its gateway");
    this.state = "stopped";
    this.offState?.();
    this.clock.clearInterval(this.timer);
    for (const serving of this.serving.values()) serving.off?.();
    this.serving.clear();
    void this.requests.stop();
  }

  // ── serving ──────────────────────────────────────────────────────────────

  private deliver(entries: RawEntry[]): void {
    for (const raw of entries) {
      if (this.state !== "started") return;
      // Deleted while pending (taken back, trimmed): nobody waits for it any more.
      const request = raw.fields ? parseHostRequest(raw.fields) : undefined;
      if (!request) {
        if (raw.fields) this.log.error({ entryId: raw.entryId }, "unreadable gateway request; dropped");
        void this.store.client
          .xack(this.keys.requests, HOSTS_GROUP, raw.entryId)
          .then(() => this.store.client.xdel(this.keys.requests, raw.entryId))
          .catch(() => undefined);
        continue;
      }
      // Read again (our own pending entries after a reconnect): it is being served already.
      if (this.serving.has(request.rid)) continue;
      const serving: Serving = { request, entryId: raw.entryId };
      this.serving.set(request.rid, serving);
      void this.serve(serving).catch((error: unknown) => this.answer(serving, errorEntry(error)));
    }
  }

  private async serve(serving: Serving): Promise<void> {
    const { request } = serving;
    switch (request.op) {
      case "run": {
        const body = request.body;
        const timeoutMs = this.runTimeout(serving, body.timeoutMs);
        // Entries in its reply stream: a previous host had the run accepted, so it is awaited.
        const accepted = (await this.store.client.exists(replyKey(this.store, request.rid))) > 0;
        if (this.state !== "started") return;
        const handle = accepted
          ? this.gateway.attachRun({ runId: body.idempotencyKey, sessionKey: body.sessionKey, timeoutMs })
          : this.gateway.runAgent({ ...body, timeoutMs });
        return this.follow(serving, handle);
      }
      case "attach": {
        const timeoutMs = this.runTimeout(serving, request.body.timeoutMs);
        return this.follow(serving, this.gateway.attachRun({ ...request.body, timeoutMs }));
      }
      case "abort": {
        const { runId, sessionKey } = request.body;
        const live = [...this.serving.values()].find((s) => s.handle?.runId === runId)?.handle;
        // The live handle also re-sends the abort after a reconnect; without one, ask the gateway.
        if (live) await live.abort();
        else await this.gateway.request("chat.abort", { sessionKey, runId });
        return this.answer(serving, { kind: "value", value: null });
      }
      case "request": {
        const { method, params, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS } = request.body;
        const left = this.remaining(serving, timeoutMs);
        // The caller gave up long ago (a host died with it): not sent this late.
        if (left <= 0) return this.answer(serving, errorEntry(lateError(this.node, method, timeoutMs)));
        const value = await this.gateway.request(method, params, left);
        return this.answer(serving, { kind: "value", value: value ?? null });
      }
    }
  }

  private follow(serving: Serving, handle: RunHandle): void {
    serving.handle = handle;
    let textLength = 0;
    serving.off = handle.onEvent((event) => {
      if (this.state !== "started") return;
      const entry = eventEntry(event, textLength);
      if (event.kind === "delta") textLength = event.text.length;
      void this.writer.push(serving.request.rid, serving.entryId, entry, false);
    });
    handle.result.then(
      (result) => this.answer(serving, { kind: "result", result }),
      (error: unknown) => this.answer(serving, errorEntry(error)),
    );
  }

  /** The final entry (with the acknowledgement); the request leaves service once it is in Redis. */
  private answer(serving: Serving, entry: ReplyEntry): void {
    // Stopping: the next owner serves the request again and answers it.
    if (this.state !== "started" || this.serving.get(serving.request.rid) !== serving) return;
    serving.off?.();
    void this.writer.push(serving.request.rid, serving.entryId, entry, true).then(() => {
      if (this.serving.get(serving.request.rid) === serving) this.serving.delete(serving.request.rid);
    });
  }

  /** A run's deadline counts from its request, as the caller's does; never less than a second. */
  private runTimeout(serving: Serving, timeoutMs = DEFAULT_RUN_TIMEOUT_MS): number {
    return Math.max(1_000, this.remaining(serving, timeoutMs));
  }

  /** What is left of `timeoutMs` since the request was made (its entry id is Redis' time then). */
  private remaining(serving: Serving, timeoutMs: number): number {
    const age = this.clock.now() + this.redisOffsetMs - entryTime(serving.entryId);
    return Math.round(timeoutMs - Math.max(0, age));
  }
}

function eventEntry(event: RunEvent, textLength: number): ReplyEntry {
  switch (event.kind) {
    case "accepted":
      return { kind: "accepted", runId: event.runId };
    case "lifecycle":
      return { kind: "lifecycle", phase: event.phase, at: textLength };
    case "delta":
      return { kind: "delta", at: event.text.length - event.delta.length, delta: event.delta };
  }
}

/** Waits for `promise`, `ms` at most. */
async function within(clock: Clock, promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!promise) return;
  let timer: TimerHandle | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = clock.setTimeout(resolve, ms);
    timer.unref();
  });
  await Promise.race([promise, timeout]);
  clock.clearTimeout(timer);
}

function lateError(node: string, method: string, ms: number): ClawbridgeError {
  return new ClawbridgeError(
    "CB_GATEWAY_TIMEOUT",
    remoteGatewayMessages.text("noAnswer", { node, what: method, ms }),
    { details: { node, method } },
  );
}

function errorEntry(error: unknown): ReplyEntry {
  return { kind: "error", error: errorToWire(error) };
}
