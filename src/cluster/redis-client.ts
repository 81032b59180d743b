import { Redis, type RedisOptions } from "ioredis";
import { silentLogger, systemClock, type Logger } from "../core/index.js";

export interface OpenRedisOptions {
  /** `state.redis.url`: a secret (it may carry the password); never logged. */
  url: string;
  /** `state.redis.keyPrefix`: every key is `<prefix><parts joined by ":">`. */
  keyPrefix: string;
  logger?: Logger;
  /** Names the connection in logs and in Redis' `CLIENT LIST` (e.g. `clawbridge:r1`). */
  name?: string;
}

/**
 * One connection to the shared store, with the key naming every part of the bridge uses.
 *
 * Commands wait through an outage instead of failing (`maxRetriesPerRequest: null`, offline
 * queue on): Redis restarting under the replicas is an outage, not lost work. What must not
 * act on stale facts while Redis is away (leases) keeps its own clock. Keys are built here,
 * not with ioredis' `keyPrefix`, so the ones Lua scripts compute carry the prefix too.
 */
export class RedisStore {
  readonly client: Redis;
  readonly prefix: string;
  private readonly log: Logger;
  private readonly extra = new Set<Redis>();
  private lastErrorLogged = 0;
  private closed = false;

  constructor(private readonly options: OpenRedisOptions) {
    this.prefix = options.keyPrefix;
    this.log = (options.logger ?? silentLogger()).child({ component: "redis" });
    // Not auto-pipelined: it gained nothing measurable in ha.throughput, and a pipeline cut
    // by a Redis restart can leave its commands unsent and unsettled (ioredis#800), which
    // would hold up whatever awaits them — a role's stop, and with it the role.
    this.client = this.connect(options.name);
  }

  /** `key("outbox", "ai-pc")` → `clawbridge:outbox:ai-pc`. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(":");
  }

  /** Connected and ready for commands. */
  up(): boolean {
    return this.client.status === "ready";
  }

  /**
   * Another connection to the same server, for a blocking read (`XREADGROUP BLOCK` holds its
   * connection): closed with this store.
   */
  duplicate(name: string): Redis {
    const connection = this.connect(name);
    this.extra.add(connection);
    connection.once("end", () => this.extra.delete(connection));
    return connection;
  }

  /** Waits until the first connection is ready (or fails after `timeoutMs`, saying why without the URL). */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.up()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis did not answer within ${timeoutMs} ms (state.redis.url)`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.client.off("ready", onReady);
      };
      this.client.on("ready", onReady);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Blocking readers are hung up on: Redis would answer their QUIT only after the blocked
    // read returned, which may hand this closing replica new entries first.
    for (const connection of this.extra) connection.disconnect();
    this.extra.clear();
    await Promise.all(
      [this.client].map(async (connection) => {
        // QUIT queues behind whatever waits for a Redis that is down: then just hang up.
        if (connection.status !== "ready") return connection.disconnect();
        const quit = connection.quit().catch(() => undefined);
        const timer = new Promise((resolve) => setTimeout(resolve, 1_000).unref());
        await Promise.race([quit, timer]);
        connection.disconnect();
      }),
    );
  }

  private connect(name: string | undefined): Redis {
    const options: RedisOptions = {
      connectionName: name ?? this.options.name,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      // Back off to one attempt a second: a restarting Redis is back within seconds.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1_000),
      reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
      lazyConnect: false,
    };
    // ioredis reads password, db and rediss:// (TLS) from the URL itself.
    const connection = new Redis(this.options.url, options);
    connection.on("error", (error: Error) => {
      // While Redis is down every reconnect attempt fails: one line every 10 s (real time) is enough.
      const now = systemClock.now();
      if (now - this.lastErrorLogged < 10_000) return;
      this.lastErrorLogged = now;
      this.log.warn(
        { err: { message: error.message, code: (error as NodeJS.ErrnoException).code } },
        "Redis connection error",
      );
    });
    connection.on("ready", () => this.log.info({ connection: name ?? this.options.name }, "Redis connected"));
    return connection;
  }
}
