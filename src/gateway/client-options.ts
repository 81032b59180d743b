import {
  DEFAULT_BACKOFF,
  silentLogger,
  systemClock,
  type BackoffOptions,
  type Clock,
  type Logger,
  type SecretRegistry,
} from "../core/index.js";
import type { DeviceIdentity } from "./device-identity.js";
import type { DeviceTokens } from "./device-tokens.js";

export interface WsGatewayClientOptions {
  node: string;
  url: string;
  token?: string;
  /** The environment variable the token came from, named in errors (never the token). */
  tokenSource?: string;
  identity: DeviceIdentity;
  deviceTokens?: DeviceTokens;
  logger?: Logger;
  /** Device tokens learned from gateways are added here, so logs never show them. */
  secrets?: SecretRegistry;
  clientVersion?: string;
  requestTimeoutMs?: number;
  /** How long the handshake may take before the attempt counts as failed. */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** While pairing is pending: retry this often (pending requests expire; at most 30 s). */
  pairingRetryMs?: number;
  pingIntervalMs?: number;
  /** A link is dead after this many tick intervals without any frame. */
  tickGraceFactor?: number;
  /** How long `runAgent` waits for a link before failing. */
  connectWaitMs?: number;
  scopes?: string[];
  /** Every time read and timer of the client (tests pass a `ManualClock`). */
  clock?: Clock;
}

/** The options with every default filled in: what the parts of the client read. */
export interface ResolvedClientOptions {
  node: string;
  url: string;
  token: string | undefined;
  tokenSource: string | undefined;
  identity: DeviceIdentity;
  deviceTokens: DeviceTokens | undefined;
  /** Already a child logger naming the component and the node. */
  log: Logger;
  secrets: SecretRegistry | undefined;
  clientVersion: string | undefined;
  scopes: string[] | undefined;
  clock: Clock;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  connectWaitMs: number;
  backoff: BackoffOptions;
  pairingRetryMs: number;
  pingIntervalMs: number;
  tickGraceFactor: number;
  /** Until `hello-ok` names the gateway's own (`policy.tickIntervalMs`). */
  tickIntervalMs: number;
  maxPayloadBytes: number;
  /** How long `stop()` waits for a clean close before it cuts the socket. */
  closeGraceMs: number;
}

/** Pending pairing requests expire after a few minutes without retries: never wait longer than this. */
export const MAX_PAIRING_RETRY_MS = 30_000;

/** Fills every default once; the parts never carry `??` fallbacks of their own. */
export function resolveClientOptions(options: WsGatewayClientOptions): ResolvedClientOptions {
  return {
    node: options.node,
    url: options.url,
    token: options.token,
    tokenSource: options.tokenSource,
    identity: options.identity,
    deviceTokens: options.deviceTokens,
    log: (options.logger ?? silentLogger()).child({ component: "gateway", node: options.node }),
    secrets: options.secrets,
    clientVersion: options.clientVersion,
    scopes: options.scopes,
    clock: options.clock ?? systemClock,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    connectWaitMs: options.connectWaitMs ?? 10_000,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    pairingRetryMs: Math.min(options.pairingRetryMs ?? 15_000, MAX_PAIRING_RETRY_MS),
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    tickGraceFactor: options.tickGraceFactor ?? 2.5,
    tickIntervalMs: 30_000,
    maxPayloadBytes: 32 * 1024 * 1024,
    closeGraceMs: 1_000,
  };
}
