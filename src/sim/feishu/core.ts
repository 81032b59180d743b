import type { Context } from "koa";
import type { Logger } from "../../core/index.js";
import type { CallLog } from "./call-log.js";
import type { Refusal } from "./codes.js";
import type { AppState, Directory } from "./directory.js";
import type { Dispatcher } from "./dispatcher.js";
import type { Faults } from "./faults.js";
import type { SlidingWindows } from "./limits.js";
import type { ClientConfig, LongConnections } from "./long-connection.js";
import type { MessageStore } from "./message-store.js";
import type { TokenBook } from "./tokens.js";
import type { DeliveryResult, EmulatedMessage, FeishuLimits } from "./types.js";

/** The emulator's state and services, shared by the HTTP handlers. */
export interface Core {
  log: Logger;
  dir: Directory;
  store: MessageStore;
  limits: FeishuLimits;
  appLimitHttpStatus: 400 | 429;
  windows: { chat: SlidingWindows; patch: SlidingWindows; app: SlidingWindows };
  tokens: TokenBook;
  calls: CallLog;
  faults: Faults;
  ws: LongConnections;
  dispatcher: Dispatcher;
  clientConfig(): ClientConfig;
  /** Changes what later endpoint answers and pongs hand out. */
  setClientConfig(changes: Partial<ClientConfig>): void;
  /** `http://127.0.0.1:<port>`. */
  baseUrl(): string;
  /** Pushes a new message to every app that receives it (see `notDeliverable`). */
  fanout(message: EmulatedMessage, eventContent: unknown, parts?: number): Fanout;
}

/** Per receiving app: the event id it got and its delivery. */
export interface Fanout {
  eventIds: Record<string, string>;
  deliveries: Record<string, Promise<DeliveryResult>>;
}

/** Per-request state the middleware fills in. */
export interface CallState {
  /** Parsed JSON body (undefined when empty or not JSON). */
  body?: unknown;
  /** The calling app, once authenticated (or named in a token request). */
  app?: AppState;
  appId?: string;
}

export function callState(ctx: Context): CallState {
  return ctx.state as CallState;
}

/** Answers a refusal the Feishu way: `{code, msg}` with its HTTP status. */
export function refuse(ctx: Context, refusal: Refusal): void {
  ctx.status = refusal.status;
  ctx.body = { code: refusal.code, msg: refusal.msg };
}

export function ok(ctx: Context, fields: Record<string, unknown>): void {
  ctx.status = 200;
  ctx.body = { code: 0, msg: "success", ...fields };
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
