import type { ClawbridgeError, Clock } from "../core/index.js";
import { PROTOCOL_VERSION } from "./frames.js";
import type { GatewayHealth, LinkState, PairingInfo } from "./types.js";

/** What only the link knows right now, added to the facts for a `health()` snapshot. */
export interface LiveHealth {
  node: string;
  url: string;
  state: LinkState;
  latencyMs: number | undefined;
  runningRuns: number;
  failures: number;
  badFrames: number;
}

/**
 * What a client has learnt about its node across attempts: when it last connected, ticked
 * and dropped, the server's version, a pending pairing request and the last failure (which
 * `health()` shows and an unreachable error quotes).
 */
export class HealthFacts {
  private connectedAt: number | undefined;
  /** When the last connection dropped: reconciliation asks for what was said since. */
  disconnectedAt: number | undefined;
  private lastTickAt: number | undefined;
  private serverVersion: string | undefined;
  private pairing: PairingInfo | undefined;
  lastFailure: { error: ClawbridgeError; at: number } | undefined;

  constructor(private readonly clock: Clock) {}

  recordError(error: ClawbridgeError): void {
    this.lastFailure = { error, at: this.clock.now() };
  }

  tick(): void {
    this.lastTickAt = this.clock.now();
  }

  /** A `hello-ok`: the node is fine again. Says whether it had been connected before. */
  connected(serverVersion: string): { reconnect: boolean } {
    const reconnect = this.connectedAt !== undefined;
    this.pairing = undefined;
    this.lastFailure = undefined;
    this.connectedAt = this.clock.now();
    this.serverVersion = serverVersion;
    return { reconnect };
  }

  disconnected(): void {
    this.disconnectedAt = this.clock.now();
  }

  /** Remembers a pairing request; true when its id is new (worth telling people about). */
  notePairing(requestId: string, command: string): boolean {
    if (this.pairing?.requestId === requestId) return false;
    this.pairing = { requestId, command, since: this.clock.now() };
    return true;
  }

  snapshot(live: LiveHealth): GatewayHealth {
    const connected = live.state === "connected";
    const last = this.lastFailure;
    return {
      node: live.node,
      url: live.url,
      state: live.state,
      connectedAt: connected ? this.connectedAt : undefined,
      lastTickAt: this.lastTickAt,
      latencyMs: live.latencyMs,
      runningRuns: live.runningRuns,
      badFrames: live.badFrames,
      serverVersion: this.serverVersion,
      protocol: connected ? PROTOCOL_VERSION : undefined,
      pairing: this.pairing,
      lastError: last && {
        code: last.error.code,
        message: last.error.message,
        fix: last.error.fix,
        at: last.at,
      },
      failures: live.failures,
    };
  }
}
