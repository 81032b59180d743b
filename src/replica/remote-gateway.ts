// Longer than our usual file: the request calls and the runs share the request stream, the
// reply reader and the way a request is taken back when no host takes it up.
import { runScript, type LuaScript, type RedisStore, errorText } from "../cluster/index.js";
import { ClawbridgeError, newId, silentLogger, systemClock, type Clock, type Logger } from "../core/index.js";
import type {
  AttachRunRequest,
  GatewayClient,
  GatewayHealth,
  ObservedEvent,
  ObserveFilter,
  RunAgentRequest,
  RunHandle,
  StateListener,
} from "../gateway/index.js";
import { remoteGatewayMessages as msg } from "./gateway-messages.js";
import {
  gatewayKeys,
  HOSTS_GROUP,
  replyKey,
  REQUESTS_MAXLEN,
  type GatewayKeys,
  type HostRequest,
  type ReplyEntry,
} from "./gateway-wire.js";
import { HealthMirror, remoteError } from "./health-mirror.js";
import { ObservedSubscriber } from "./observed-stream.js";
import { ReplyReader } from "./reply-reader.js";
import { RemoteRun } from "./remote-run.js";
import { errorFromWire } from "./wire-errors.js";

export interface RemoteGatewayClientOptions {
  store: RedisStore;
  node: string;
  logger?: Logger;
  clock?: Clock;
  /** How often the published health is read (default 1 s). */
  pollMs?: number;
  /** How long a run or a request waits for a host to take it before failing (default 10 s, as a local client waits for its link). */
  connectWaitMs?: number;
  /** `request()`'s default timeout (default 15 s, as the local client's). */
  requestTimeoutMs?: number;
}

const DEFAULT_RUN_TIMEOUT_MS = 30 * 60_000;
/** Beyond the host's own deadlines, for the way through Redis: the host's answer comes first. */
const GRACE_MS = 5_000;
/** Runs that succeeded are kept this long, so a repeated key still gets the same handle (as locally). */
const KEEP_FINISHED_MS = 60_000;

// KEYS: request stream. ARGV: group, entry id. Takes a request back while no host has read it
// (1), else leaves it (0): whoever read it answers. Atomic, so a request is never both taken
// back and served.
const TAKE_BACK: LuaScript = {
  name: "clawbridgeGatewayTakeBack",
  keys: 1,
  lua: `
if #redis.call("XRANGE", KEYS[1], ARGV[2], ARGV[2]) == 0 then return 0 end
local pending = redis.pcall("XPENDING", KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if type(pending) == "table" and pending.err == nil and #pending > 0 then return 0 end
redis.call("XDEL", KEYS[1], ARGV[2])
return 1
`,
};

/** One request put in the node's stream, and what waits for its answer. */
interface Call {
  rid: string;
  /** Its entry in the request stream, once Redis has it. */
  entryId: Promise<string>;
  /** An entry of its reply stream came: a host took it up. */
  answered: boolean;
  /** Ends it without an answer (the client stops). */
  fail: (error: Error) => void;
  /** Stops following its reply stream. */
  stop: () => void;
}

/**
 * A node's gateway that another replica hosts (it holds the node's role and its link), as a
 * `GatewayClient`: requests and runs go through the node's request stream to the host, and
 * come back on per-request reply streams (see `GatewayHost`); health is the host's, read
 * every `pollMs`.
 *
 * A run's id is known at once, as with the local client: it is the idempotency key (or the
 * id attached to), which the host hands to its gateway unchanged.
 *
 * Observation belongs with the link, on the replica that holds it (its relay turns what
 * agents say into chat posts once). `observe()` here is for display (`/watch`): the holder
 * copies chat events into a stream while someone watches (see observed-stream.ts).
 */
export class RemoteGatewayClient implements GatewayClient {
  readonly node: string;
  private readonly store: RedisStore;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly connectWaitMs: number;
  private readonly requestTimeoutMs: number;
  private readonly keys: GatewayKeys;
  private readonly mirror: HealthMirror;
  private readonly reader: ReplyReader;
  private readonly observed: ObservedSubscriber;
  private readonly runs = new Map<string, RemoteRun>();
  private readonly calls = new Set<Call>();

  constructor(options: RemoteGatewayClientOptions) {
    this.node = options.node;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({
      component: "replica.remote-gateway",
      node: options.node,
    });
    this.connectWaitMs = options.connectWaitMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.keys = gatewayKeys(options.store, options.node);
    this.mirror = new HealthMirror({
      store: options.store,
      node: options.node,
      key: this.keys.health,
      pollMs: options.pollMs ?? 1_000,
      clock: this.clock,
      log: this.log,
    });
    this.reader = new ReplyReader(options.store, `gateway-remote:${options.node}`, this.log);
    this.observed = new ObservedSubscriber({ store: options.store, node: options.node, logger: this.log });
  }

  // ── health ───────────────────────────────────────────────────────────────

  /** Starts reading the host's health; requests and runs work without it. */
  start(): void {
    this.mirror.start();
  }

  /** Stops reading; open runs and requests fail as the local client's do when it stops. */
  stop(): Promise<void> {
    for (const run of this.runs.values())
      run.fail(remoteError(this.node, "CB_GATEWAY_CLOSED", "stoppedBeforeRunEnded"));
    this.runs.clear();
    for (const call of [...this.calls]) call.fail(remoteError(this.node, "CB_GATEWAY_CLOSED", "stopped"));
    this.reader.close();
    this.mirror.stop();
    return this.observed.close();
  }

  health(): GatewayHealth {
    return this.mirror.health;
  }

  /** The replica hosting the node's gateway, as last read; undefined when none is. */
  hostedBy(): string | undefined {
    return this.mirror.host;
  }

  onState(listener: StateListener): () => void {
    return this.mirror.onState(listener);
  }

  /** Resolves once the host reports the gateway connected; rejects at once when it is refused. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.mirror.ready(timeoutMs);
  }

  /**
   * What the node's agent says, as the replica holding its link copies it (display only:
   * `/watch`). The relay never observes through here — it routes from the link itself.
   */
  observe(listener: (event: ObservedEvent) => void, filter?: ObserveFilter): () => void {
    return this.observed.observe(listener, filter);
  }

  // ── requests ─────────────────────────────────────────────────────────────

  async request<T = unknown>(
    method: string,
    params: unknown = {},
    timeoutMs = this.requestTimeoutMs,
  ): Promise<T> {
    // As the local client: a request needs the link up now.
    if (this.mirror.health.state !== "connected") throw this.mirror.unreachable();
    const value = await this.call(
      { op: "request", body: { method, params, timeoutMs } },
      { pickupMs: Math.min(this.connectWaitMs, timeoutMs), answerMs: timeoutMs + GRACE_MS, what: method },
    );
    return value as T;
  }

  runAgent(request: RunAgentRequest): RunHandle {
    const existing = this.runs.get(request.idempotencyKey);
    if (existing) return existing; // the same key never starts a second run
    return this.startRun(request.idempotencyKey, request.sessionKey, request.timeoutMs, {
      op: "run",
      body: { ...request },
    });
  }

  attachRun(request: AttachRunRequest): RunHandle {
    const existing = this.runs.get(request.runId);
    if (existing) return existing;
    return this.startRun(request.runId, request.sessionKey, request.timeoutMs, {
      op: "attach",
      body: { ...request },
    });
  }

  private startRun(
    runId: string,
    sessionKey: string,
    timeoutMs = DEFAULT_RUN_TIMEOUT_MS,
    request: OutgoingRequest,
  ): RemoteRun {
    const run = new RemoteRun(runId, sessionKey, (r) => this.abort(r));
    this.runs.set(runId, run);
    const call = this.send(
      request,
      (entry) => run.apply(entry),
      (error) => run.fail(error),
    );
    const pickup = this.clock.setTimeout(() => {
      if (call.answered || run.settled) return;
      void this.takeBack(call).then((taken) => {
        if (taken) run.fail(this.mirror.unreachable());
      });
    }, this.connectWaitMs);
    pickup.unref();
    // The host's run has this deadline too; this one holds when no host is left to report it.
    const deadline = this.clock.setTimeout(() => {
      if (run.settled) return;
      void this.abort(run).catch(() => undefined);
      const text = msg.text("runTimeout", { node: this.node, runId, ms: timeoutMs });
      run.fail(new ClawbridgeError("CB_GATEWAY_TIMEOUT", text, { details: { node: this.node, runId } }));
    }, timeoutMs + GRACE_MS);
    deadline.unref();
    run.onSettled(() => {
      this.clock.clearTimeout(pickup);
      this.clock.clearTimeout(deadline);
      this.done(call);
    });
    run.result.then(
      () => this.clock.setTimeout(() => this.forget(run), KEEP_FINISHED_MS).unref(),
      // A failed handle must not answer the caller's retry with the same failure.
      () => this.forget(run),
    );
    return run;
  }

  private forget(run: RemoteRun): void {
    if (this.runs.get(run.runId) === run) this.runs.delete(run.runId);
  }

  /**
   * Asks the host to abort. Not taken up in time, it fails as unreachable but stays in the
   * stream for the next host, as the local client sends an abort again after a reconnect: a
   * cancelled task must not run on because its node changed hands at that moment.
   */
  private async abort(run: RemoteRun): Promise<void> {
    await this.call(
      { op: "abort", body: { runId: run.runId, sessionKey: run.sessionKey } },
      {
        pickupMs: this.connectWaitMs,
        answerMs: this.requestTimeoutMs + GRACE_MS,
        what: "chat.abort",
        keep: true,
      },
    );
  }

  /**
   * A request answered by one final entry: its value, or its error thrown. Not taken up
   * within `pickupMs`, it is taken back and fails as unreachable (with `keep`, it fails and
   * stays for the next host); taken up but not answered within `answerMs`, it fails as timed out.
   */
  private call(
    request: OutgoingRequest,
    limits: { pickupMs: number; answerMs: number; what: string; keep?: boolean },
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: { value: unknown } | { error: Error }) => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(pickup);
        this.clock.clearTimeout(answer);
        this.done(call);
        if ("error" in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };
      const call = this.send(
        request,
        (entry) => {
          if (entry.kind === "value") finish({ value: entry.value });
          else if (entry.kind === "error") finish({ error: errorFromWire(entry.error) });
        },
        (error) => finish({ error }),
      );
      const pickup = this.clock.setTimeout(() => {
        if (call.answered) return;
        const taken = limits.keep ? Promise.resolve(true) : this.takeBack(call);
        void taken.then((yes) => {
          if (yes) finish({ error: this.mirror.unreachable() });
        });
      }, limits.pickupMs);
      pickup.unref();
      const answer = this.clock.setTimeout(() => {
        const taking = limits.keep ? Promise.resolve(false) : this.takeBack(call);
        void taking.then((taken) => {
          const text = msg.text("noAnswer", { node: this.node, what: limits.what, ms: limits.answerMs });
          const details = { node: this.node, method: limits.what };
          finish({
            error: taken
              ? this.mirror.unreachable()
              : new ClawbridgeError("CB_GATEWAY_TIMEOUT", text, { details }),
          });
        });
      }, limits.answerMs);
      answer.unref();
    });
  }

  /** Puts the request in the node's stream and follows its reply stream (from its start). */
  private send(
    request: OutgoingRequest,
    onEntry: (entry: ReplyEntry) => void,
    fail: (error: Error) => void,
  ): Call {
    const rid = newId(this.clock.now());
    const call: Call = { rid, answered: false, fail, stop: () => undefined, entryId: Promise.resolve("") };
    call.stop = this.reader.follow({
      key: replyKey(this.store, rid),
      onEntry: (entry) => {
        call.answered = true;
        onEntry(entry);
      },
    });
    this.calls.add(call);
    const fields = JSON.stringify({ rid, ...request });
    call.entryId = this.store.client
      .xadd(this.keys.requests, "MAXLEN", "~", REQUESTS_MAXLEN, "*", "r", fields)
      .then((id) => String(id));
    call.entryId.catch((error: unknown) => {
      // Commands wait through Redis outages: this is a store closed under us.
      const reason = errorText(error);
      this.log.warn({ err: { message: reason } }, "could not send a request to the gateway's host");
      const text = msg.text("notSent", { node: this.node, reason });
      fail(new ClawbridgeError("CB_GATEWAY_UNREACHABLE", text, { details: { node: this.node, reason } }));
    });
    return call;
  }

  private done(call: Call): void {
    call.stop();
    this.calls.delete(call);
  }

  /** True when no host had read the request, which is now withdrawn. */
  private async takeBack(call: Call): Promise<boolean> {
    try {
      const entryId = await call.entryId;
      return (
        (await runScript(this.store.client, TAKE_BACK, [this.keys.requests], [HOSTS_GROUP, entryId])) === 1
      );
    } catch {
      return false;
    }
  }
}

/** A request as the client writes it; the request id is added when it is sent. */
type OutgoingRequest = HostRequest extends infer R ? (R extends unknown ? Omit<R, "rid"> : never) : never;
