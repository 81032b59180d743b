import type { Fence, RedisStore } from "../cluster/index.js";
import { ClawbridgeError, systemClock, type Clock, type Envelope, type Logger } from "../core/index.js";
import type { CardActionAnswer, CardActionEvent, InboundChatMessage } from "../feishu/index.js";
import { DeliveryLoop, RedisOutbox, type OutboxItem } from "../relay/index.js";
import { replicaMessages } from "./messages.js";

/** What reaches the replica holding the "tasks" role from the others. */
export type IntakeItem =
  | { kind: "message"; message: InboundChatMessage }
  | { kind: "card"; event: CardActionEvent }
  | { kind: "mailbox"; envelope: Envelope };

/** What the "tasks" holder does with each (the task layer's three entry points). */
export interface IntakeHandlers {
  message(message: InboundChatMessage): Promise<void>;
  card(event: CardActionEvent): Promise<CardActionAnswer | undefined>;
  mailbox(envelope: Envelope): Promise<void>;
}

export interface IntakeForwarderOptions {
  store: RedisStore;
  /** This replica's id (its consumer name). */
  consumer: string;
  claimIdleMs: number;
  logger: Logger;
  clock?: Clock;
  /** How long a button press waits for the answer (Feishu shows its own error after 3 s). */
  cardAnswerMs?: number;
}

type Work = OutboxItem<IntakeItem> & { lane: string };

const INTAKE_TARGET = "_intake";
const CAPACITY = 10_000;
/** Feishu gives a card callback three seconds; the answer must be back before that. */
const CARD_ANSWER_MS = 2_500;
const CARD_POLL_MS = 25;
const ANSWER_KEEP_MS = 60_000;

/**
 * Feishu delivers each event to one random replica, and the shared folder is tailed by one;
 * commands, buttons and task envelopes are all the task layer's, which runs on the replica
 * holding the "tasks" role. Every replica puts what it receives into one shared stream (a
 * `RedisOutbox`: durable before Feishu's event is acknowledged, deduplicated by event id,
 * in order per chat); the "tasks" holder works it off, and its successor takes over what
 * it had taken and not finished. A button press waits for its answer (a toast, a new card)
 * so the person sees it as in one process.
 */
export class IntakeForwarder {
  private readonly outbox: RedisOutbox<IntakeItem>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private loop: DeliveryLoop<Work> | undefined;

  constructor(private readonly options: IntakeForwarderOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: "replica.intake" });
    this.outbox = new RedisOutbox<IntakeItem>({
      store: options.store,
      target: INTAKE_TARGET,
      capacity: CAPACITY,
      laneOf: laneOf,
      logger: options.logger,
      clock: this.clock,
      consumer: options.consumer,
      claimIdleMs: options.claimIdleMs,
    });
  }

  load(): Promise<void> {
    return this.outbox.load();
  }

  /** Waiting in the stream: for `/readyz` and status. */
  get pending(): number {
    return this.outbox.size;
  }

  async forwardMessage(message: InboundChatMessage): Promise<void> {
    await this.put(`m-${message.eventId}`, { kind: "message", message });
  }

  async forwardMailbox(envelope: Envelope): Promise<void> {
    await this.put(`e-${envelope.id}`, { kind: "mailbox", envelope });
  }

  /** Resolves with the task layer's answer, or undefined when it did not come in time (the press still counts). */
  async forwardCard(event: CardActionEvent): Promise<CardActionAnswer | undefined> {
    await this.put(`c-${event.eventId}`, { kind: "card", event });
    const key = this.answerKey(event.eventId);
    const deadline = this.clock.now() + (this.options.cardAnswerMs ?? CARD_ANSWER_MS);
    while (this.clock.now() < deadline) {
      const answer = await this.options.store.client.get(key);
      if (answer !== null) return answer === "" ? undefined : (JSON.parse(answer) as CardActionAnswer);
      await new Promise((resolve) => setTimeout(resolve, CARD_POLL_MS));
    }
    this.log.info({ event: event.eventId }, "a button press was queued; its answer did not come in time");
    return undefined;
  }

  /** This replica holds "tasks": work off the stream (what a lost holder had taken first). */
  async serve(fence: Fence, handlers: IntakeHandlers): Promise<void> {
    const outbox = this.outbox;
    const loop = new DeliveryLoop<Work>({
      name: INTAKE_TARGET,
      logger: this.log,
      // One at a time per chat (its lane), chats in parallel, as one process handles them.
      concurrency: 16,
      available: () => true,
      clock: this.clock,
      pending: function* () {
        for (const item of outbox.laneHeads()) yield { ...item, lane: laneOf(item.payload) };
      },
      work: async (item) => {
        outbox.attempt(item.id);
        await this.handle(item.payload, handlers);
        // The task layer answers its own failures (a journal write refused because the role
        // slipped away) and returns: handled or not, the next holder takes the item again
        // (every handler is idempotent, as for Feishu's retries) rather than it being lost.
        if (!fence.held()) throw new Error(`FENCED intake: ${item.id} handled while the tasks role lapsed`);
        await outbox.done(item.id);
      },
      giveUp: async (item, error) => {
        this.log.error({ err: error, item: item.id }, "an event could not be handled; dropped");
        await outbox.done(item.id);
      },
    });
    this.loop = loop;
    await outbox.consume(fence, () => loop.wake());
    loop.wake();
  }

  /** The role moved on: finish what runs; the rest waits in the stream for the next holder. */
  async stopServing(): Promise<void> {
    const loop = this.loop;
    this.loop = undefined;
    await loop?.stop();
    await this.outbox.stopConsuming();
  }

  async close(): Promise<void> {
    await this.stopServing();
    await this.outbox.close();
  }

  private async handle(item: IntakeItem, handlers: IntakeHandlers): Promise<void> {
    if (item.kind === "message") return handlers.message(item.message);
    if (item.kind === "mailbox") return handlers.mailbox(item.envelope);
    const answer = await handlers.card(item.event);
    await this.options.store.client.set(
      this.answerKey(item.event.eventId),
      answer ? JSON.stringify(answer) : "",
      "PX",
      ANSWER_KEEP_MS,
    );
  }

  private answerKey(eventId: string): string {
    return this.options.store.key("intake", "answer", eventId);
  }

  private async put(id: string, payload: IntakeItem): Promise<void> {
    const [result] = await this.outbox.put({ id, payload, enqueuedAt: this.clock.now(), attempts: 0 });
    if (result === "overflow") {
      // Not acknowledged: Feishu (or the tailer) tries again once there is room.
      throw new ClawbridgeError(
        "CB_OUTBOX_FULL",
        replicaMessages.text("intakeFull", { capacity: CAPACITY }),
        {
          fix: replicaMessages.text("intakeFullFix"),
        },
      );
    }
  }
}

function laneOf(item: IntakeItem): string {
  if (item.kind === "message") return item.message.chatId;
  if (item.kind === "mailbox") return `mailbox:${item.envelope.from}`;
  return "cards";
}
