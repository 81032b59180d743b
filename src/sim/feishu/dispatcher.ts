import type { Logger } from "../../core/index.js";
import type { AppState } from "./directory.js";
import type { Envelope } from "./event-builder.js";
import type { LongConnections } from "./long-connection.js";
import type { DeliveryResult, EventRecord } from "./types.js";
import { postPush } from "./webhook-push.js";

interface Queued {
  envelope: Envelope;
  parts?: number;
  resolve: (result: DeliveryResult) => void;
}

const MAX_RECORDS = 50_000;

/**
 * Sends each event to one app by its current channel: webhook POST when configured,
 * otherwise the long connection; with neither connected the event waits in a bounded
 * per-app queue and goes out in order when a client connects.
 */
export class Dispatcher {
  private readonly records: EventRecord[] = [];
  private readonly byId = new Map<string, EventRecord>();
  private readonly queues = new Map<string, Queued[]>();
  private closed = false;

  constructor(
    private readonly ws: LongConnections,
    private readonly options: { logger: Logger; ackTimeoutMs: number; maxQueued: number },
  ) {}

  /** Pushes `envelope` to `app`; resolves with what the receiver answered. */
  deliver(
    app: AppState,
    envelope: Envelope,
    opts: { parts?: number; messageId?: string } = {},
  ): Promise<DeliveryResult> {
    const record: EventRecord = {
      eventId: envelope.header.event_id,
      appId: app.appId,
      eventType: envelope.header.event_type,
      ...(opts.messageId ? { messageId: opts.messageId } : {}),
      at: Date.now(),
      envelope,
    };
    this.remember(record);
    const result = this.route(app, envelope, opts.parts);
    void result.then((r) => (record.result = r));
    return result;
  }

  /** The newest push with this event id. */
  get(eventId: string): EventRecord | undefined {
    return this.byId.get(eventId);
  }

  list(appId?: string): EventRecord[] {
    return this.records.filter((r) => !appId || r.appId === appId);
  }

  queued(appId: string): number {
    return this.queues.get(appId)?.length ?? 0;
  }

  /** Sends an app's queued events, oldest first, to its (new) client or webhook. */
  flush(app: AppState): void {
    const queue = this.queues.get(app.appId);
    while (queue && queue.length > 0) {
      const next = queue[0]!;
      const sent = app.webhook
        ? this.route(app, next.envelope)
        : this.ws.push(app.appId, JSON.stringify(next.envelope), next.parts);
      if (!sent) return;
      queue.shift();
      void sent.then(next.resolve);
    }
  }

  close(): void {
    this.closed = true;
    for (const queue of this.queues.values()) {
      for (const item of queue.splice(0)) item.resolve({ via: "none", reason: "emulator closed" });
    }
  }

  private route(app: AppState, envelope: Envelope, parts?: number): Promise<DeliveryResult> {
    if (this.closed) return Promise.resolve({ via: "none", reason: "emulator closed" });
    const hook = app.webhook;
    if (hook) {
      const url =
        envelope.header.event_type === "card.action.trigger"
          ? (hook.cardsUrl ?? hook.eventsUrl)
          : hook.eventsUrl;
      return postPush(url, hook, envelope, this.options.ackTimeoutMs);
    }
    // Order matters: while older events wait, a new one queues behind them.
    if (this.queued(app.appId) === 0) {
      const sent = this.ws.push(app.appId, JSON.stringify(envelope), parts);
      if (sent) return sent;
    }
    return new Promise((resolve) => {
      let queue = this.queues.get(app.appId);
      if (!queue) this.queues.set(app.appId, (queue = []));
      queue.push({ envelope, parts, resolve });
      if (queue.length > this.options.maxQueued) {
        queue.shift()!.resolve({ via: "none", reason: "queue overflow: the app had no receiver" });
      }
      this.options.logger.debug({ appId: app.appId, queued: queue.length }, "event queued: no receiver");
    });
  }

  private remember(record: EventRecord): void {
    this.records.push(record);
    this.byId.set(record.eventId, record);
    if (this.records.length > MAX_RECORDS) {
      for (const old of this.records.splice(0, this.records.length - MAX_RECORDS)) {
        if (this.byId.get(old.eventId) === old) this.byId.delete(old.eventId);
      }
    }
  }
}
