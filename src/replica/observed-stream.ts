import type { Redis } from "ioredis";
import type { RedisStore } from "../cluster/index.js";
import { silentLogger, systemClock, type Logger } from "../core/index.js";
import type { GatewayClient, ObservedEvent, ObserveFilter } from "../gateway/index.js";

// Times here are Redis' (key TTLs, stream ids in ms since the epoch), so they are read from
// `systemClock`, never a test's clock.

/** Events kept for late readers: a watch card shows the latest few anyway. */
const STREAM_MAXLEN = 1_000;
/** How long a subscriber's interest lasts without being renewed. */
const WATCHED_MS = 10_000;
const RENEW_MS = 3_000;
/** How often the publisher looks whether anyone watches (between, it trusts its last look). */
const LOOK_MS = 2_000;
const BLOCK_MS = 1_000;

const keys = (store: RedisStore, node: string) => ({
  stream: store.key("gateway", node, "observed"),
  watched: store.key("gateway", node, "watched"),
});

/**
 * What a node's agent says, seen by the replica holding the node's link, copied into a Redis
 * stream for the replica running the task layer (`/watch <node>` shows it). Only while
 * someone watches (a key the subscriber renews): otherwise nothing is written. The relay
 * never reads this stream — it routes from the link itself, on the holder — so nothing is
 * acted on twice; this is display only.
 */
export class ObservedPublisher {
  private off: (() => void) | undefined;
  private lookTimer: NodeJS.Timeout | undefined;
  private looking = false;
  private watchedUntil = 0;
  private readonly log: Logger;

  constructor(
    private readonly options: { store: RedisStore; node: string; gateway: GatewayClient; logger?: Logger },
  ) {
    this.log = (options.logger ?? silentLogger()).child({
      component: "replica.observed",
      node: options.node,
    });
  }

  start(): void {
    if (this.lookTimer) return;
    this.lookTimer = setInterval(() => void this.look(), LOOK_MS);
    this.lookTimer.unref();
    void this.look();
  }

  stop(): void {
    clearInterval(this.lookTimer);
    this.lookTimer = undefined;
    this.off?.();
    this.off = undefined;
  }

  /**
   * Observes the link only while someone watches: an observer makes the link build (and
   * scrub of secrets) an event for every chat delta of every run, which under load cost the
   * node's holder more than the watch is worth when nobody looks.
   */
  private async look(): Promise<void> {
    // A look waiting for a Redis that is down is enough: the next ones are skipped till it answers.
    if (this.looking) return;
    this.looking = true;
    const { store, node } = this.options;
    try {
      const ttl = await store.client.pttl(keys(store, node).watched);
      this.watchedUntil = ttl > 0 ? systemClock.now() + ttl : 0;
    } catch (error) {
      this.log.debug({ err: error }, "could not look whether anyone watches");
      return;
    } finally {
      this.looking = false;
    }
    if (!this.lookTimer) return;
    if (this.watchedUntil > systemClock.now()) {
      this.off ??= this.options.gateway.observe((event) => void this.publish(event), { kind: "chat" });
    } else {
      this.off?.();
      this.off = undefined;
    }
  }

  private async publish(event: ObservedEvent): Promise<void> {
    if (systemClock.now() > this.watchedUntil) return;
    const { store, node } = this.options;
    try {
      const { raw: _raw, ...plain } = event;
      await store.client.xadd(
        keys(store, node).stream,
        "MAXLEN",
        "~",
        STREAM_MAXLEN,
        "*",
        "event",
        JSON.stringify(plain),
      );
    } catch (error) {
      this.log.debug({ err: error }, "could not copy an observed event for watchers");
    }
  }
}

type Listener = { listener: (event: ObservedEvent) => void; filter: ObserveFilter | undefined };

/** The other side: `observe()` of a node's gateway seen from a replica that does not hold it. */
export class ObservedSubscriber {
  private readonly listeners = new Set<Listener>();
  private connection: Redis | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly options: { store: RedisStore; node: string; logger?: Logger }) {
    this.log = (options.logger ?? silentLogger()).child({
      component: "replica.observed",
      node: options.node,
    });
  }

  observe(listener: (event: ObservedEvent) => void, filter?: ObserveFilter): () => void {
    const entry: Listener = { listener, filter };
    this.listeners.add(entry);
    if (this.listeners.size === 1) this.begin();
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0) void this.end();
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.end();
  }

  private begin(): void {
    const { store, node } = this.options;
    const { stream, watched } = keys(store, node);
    const renew = () =>
      void store.client.set(watched, "1", "PX", WATCHED_MS).catch((error: unknown) => {
        this.log.debug({ err: error }, "could not renew the watch");
      });
    renew();
    this.renewTimer = setInterval(renew, RENEW_MS);
    this.renewTimer.unref();
    const connection = store.duplicate(`observed:${node}`);
    this.connection = connection;
    this.reading = (async () => {
      // From the moment of subscribing (not "$", which counts from the first read, later):
      // what was said meanwhile is shown too. A second of history more is harmless here.
      let last = `${systemClock.now() - 1_000}-0`;
      while (this.connection === connection) {
        try {
          const reply = await connection.xread("BLOCK", BLOCK_MS, "STREAMS", stream, last);
          for (const [, entries] of reply ?? []) {
            for (const [id, fields] of entries) {
              last = id;
              const json = fields[fields.indexOf("event") + 1];
              if (json) this.deliver(JSON.parse(json) as ObservedEvent);
            }
          }
        } catch (error) {
          if (this.connection !== connection) return;
          this.log.debug({ err: error }, "reading observed events failed; retrying");
          await new Promise((resolve) => setTimeout(resolve, BLOCK_MS));
        }
      }
    })();
  }

  private async end(): Promise<void> {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    connection?.disconnect();
    await this.reading;
    this.reading = undefined;
  }

  private deliver(event: ObservedEvent): void {
    for (const { listener, filter } of this.listeners) {
      if (filter?.kind && filter.kind !== event.kind) continue;
      if (filter?.states && !filter.states.includes(event.state)) continue;
      try {
        listener(event);
      } catch (error) {
        this.log.warn({ err: error }, "an observer failed");
      }
    }
  }
}
