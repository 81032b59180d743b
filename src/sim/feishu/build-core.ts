import type { Logger } from "../../core/index.js";
import { CallLog } from "./call-log.js";
import type { Core } from "./core.js";
import { Directory } from "./directory.js";
import { Dispatcher } from "./dispatcher.js";
import { Faults } from "./faults.js";
import { DEFAULT_LIMITS, SlidingWindows } from "./limits.js";
import { LongConnections, type ClientConfig } from "./long-connection.js";
import { MessageStore } from "./message-store.js";
import { TokenBook } from "./tokens.js";
import type { AppSpec, FeishuEmulatorOptions } from "./types.js";

/** What the core needs from the emulator object, wired after construction. */
export interface CoreHooks {
  baseUrl: Core["baseUrl"];
  fanout: Core["fanout"];
}

/** Builds the emulator's state and services from its options, with every default applied. */
export function buildCore(options: FeishuEmulatorOptions, log: Logger, hooks: CoreHooks): Core {
  const dir = new Directory();
  const specs: AppSpec[] = options.apps?.length ? options.apps : [{}];
  specs.forEach((spec, i) => dir.addApp(spec, i === 0 ? "clawbridge" : `bot-${i + 1}`));
  // Mutable: a test may change what later endpoint answers and pongs hand out.
  const settings: ClientConfig = {
    PingInterval: options.pingIntervalSec ?? 120,
    ReconnectCount: options.reconnectCount ?? -1,
    ReconnectInterval: options.reconnectIntervalSec ?? 5,
    ReconnectNonce: options.reconnectNonceSec ?? 0,
  };
  const clientConfig = (): ClientConfig => ({ ...settings });
  const ackTimeoutMs = options.ackTimeoutMs ?? 3000;
  const ws = new LongConnections({
    logger: log,
    clientConfig,
    ackTimeoutMs,
    fragmentBytes: options.fragmentBytes ?? 0,
    ...(options.eventDelivery ? { eventDelivery: options.eventDelivery } : {}),
    onConnect: (appId) => dispatcher.flush(dir.app(appId)),
  });
  const dispatcher = new Dispatcher(ws, {
    logger: log,
    ackTimeoutMs,
    maxQueued: options.maxQueuedEvents ?? 1000,
  });
  const calls = new CallLog();
  for (const app of dir.apps.values()) calls.addSecret(app.appSecret);
  return {
    log,
    dir,
    store: new MessageStore(),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    appLimitHttpStatus: options.appLimitHttpStatus ?? 429,
    windows: { chat: new SlidingWindows(), patch: new SlidingWindows(), app: new SlidingWindows() },
    tokens: new TokenBook(options.tokenExpireSec ?? 7200),
    calls,
    faults: new Faults(),
    ws,
    dispatcher,
    clientConfig,
    setClientConfig: (changes) => Object.assign(settings, changes),
    baseUrl: () => hooks.baseUrl(),
    fanout: (message, content, parts) => hooks.fanout(message, content, parts),
  };
}
