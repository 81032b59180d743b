import { errorText } from "../cluster/index.js";
import type { RedisStore } from "../cluster/index.js";
import { ClawbridgeError, type Clock, type Logger, type TimerHandle } from "../core/index.js";
import type { GatewayHealth, LinkState, StateListener } from "../gateway/index.js";
import { remoteGatewayMessages as msg } from "./gateway-messages.js";
import { HEALTH_TTL_MS, parseHealthRecord, type HealthRecord } from "./gateway-wire.js";

const REFUSED_STATES: ReadonlySet<LinkState> = new Set(["pairing", "auth-failed", "protocol-mismatch"]);

export interface HealthMirrorOptions {
  store: RedisStore;
  node: string;
  /** The node's health key (see `gatewayKeys`). */
  key: string;
  pollMs: number;
  clock: Clock;
  log: Logger;
}

/**
 * A node's gateway health as its host publishes it, read every `pollMs`. With nothing
 * published (no replica holds the node, or its host died and the key expired) the link is
 * not up: `backoff`, with the reason in `lastError` — `LinkState` has no word for "nobody
 * holds it", and `backoff` with a failure is what the node pool shows as offline.
 */
export class HealthMirror {
  private current: GatewayHealth;
  private record: HealthRecord | undefined;
  private readonly listeners = new Set<StateListener>();
  private timer?: TimerHandle;
  private polling: Promise<void> | undefined;
  private lastPollAt = 0;
  private started = false;

  constructor(private readonly options: HealthMirrorOptions) {
    this.current = { node: options.node, url: "", state: "idle", runningRuns: 0, failures: 0 };
  }

  get health(): GatewayHealth {
    return this.current;
  }

  /** The replica hosting the gateway, as last read. */
  get host(): string | undefined {
    return this.record?.host;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastPollAt = this.options.clock.now();
    this.poll();
    this.timer = this.options.clock.setInterval(() => this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    this.started = false;
    this.options.clock.clearInterval(this.timer);
    this.set({ ...this.current, state: "stopped" });
  }

  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the host reports the link up; rejects at once on a refusal, as the local client does. */
  ready(timeoutMs: number): Promise<void> {
    if (this.current.state === "connected") return Promise.resolve();
    if (REFUSED_STATES.has(this.current.state)) return Promise.reject(this.refusal());
    const { clock } = this.options;
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clock.clearTimeout(timer);
        off();
        if (error) reject(error);
        else resolve();
      };
      const timer = clock.setTimeout(() => done(this.unreachable()), timeoutMs);
      timer.unref();
      const off = this.onState((health) => {
        if (health.state === "connected") done();
        else if (REFUSED_STATES.has(health.state)) done(this.refusal());
        else if (health.state === "stopped")
          done(remoteError(this.options.node, "CB_GATEWAY_CLOSED", "stopped"));
      });
    });
  }

  /** Why the gateway cannot be reached now: no host, or what the host's link last failed with. */
  unreachable(): ClawbridgeError {
    const { node } = this.options;
    const last = this.current.lastError;
    if (this.record === undefined || !last) return remoteError(node, "CB_GATEWAY_UNREACHABLE", "noHost");
    return new ClawbridgeError("CB_GATEWAY_UNREACHABLE", last.message, {
      ...(last.fix ? { fix: last.fix } : {}),
      details: { node, url: this.current.url, lastError: last.code, reason: last.message },
    });
  }

  /** A refusal a person must act on (pairing, token, protocol), with its own code. */
  private refusal(): ClawbridgeError {
    const last = this.current.lastError;
    if (!last) return this.unreachable();
    return new ClawbridgeError(last.code, last.message, last.fix ? { fix: last.fix } : {});
  }

  private poll(): void {
    if (!this.started) return;
    const { clock, store, key, log } = this.options;
    if (this.polling) {
      // Redis is not answering: past the health's own lifetime nobody can say the link is up.
      if (clock.now() - this.lastPollAt > HEALTH_TTL_MS) this.noHost();
      return;
    }
    this.polling = store.client
      .get(key)
      .then((json) => {
        this.lastPollAt = clock.now();
        const record = json === null ? undefined : parseHealthRecord(json);
        if (!record) return this.noHost();
        this.record = record;
        if (this.started) this.set(record.health);
      })
      .catch((error: unknown) =>
        log.warn({ err: { message: errorText(error) } }, "could not read the gateway's health"),
      )
      .finally(() => (this.polling = undefined));
  }

  private noHost(): void {
    this.record = undefined;
    if (!this.started) return;
    const { node, clock } = this.options;
    const previous = this.current;
    const message = msg.text("noHost", { node }).render("en");
    const known = previous.lastError?.message === message ? previous.lastError : undefined;
    this.set({
      node,
      url: previous.url,
      state: "backoff",
      runningRuns: 0,
      failures: Math.max(1, previous.failures),
      lastError: known ?? {
        code: "CB_GATEWAY_UNREACHABLE",
        message,
        fix: msg.text("noHostFix").render("en"),
        at: clock.now(),
      },
    });
  }

  /** Listeners hear of state changes, as the local client's do. */
  private set(health: GatewayHealth): void {
    const changed = health.state !== this.current.state;
    this.current = health;
    if (!changed) return;
    for (const listener of [...this.listeners]) listener(health);
  }
}

/** An error of the remote client itself (no host, stopped), in the reader's language. */
export function remoteError(
  node: string,
  code: "CB_GATEWAY_UNREACHABLE" | "CB_GATEWAY_CLOSED",
  key: "noHost" | "stopped" | "stoppedBeforeRunEnded",
): ClawbridgeError {
  return new ClawbridgeError(code, msg.text(key, { node }), {
    ...(key === "noHost" ? { fix: msg.text("noHostFix") } : {}),
    details: { node },
  });
}
