import { silentLogger, systemClock, type Clock, type Logger, type TimerHandle } from "../core/index.js";
import { postUuid } from "../relay/index.js";
import { taskCard, taskFinalText } from "./cards/index.js";
import type { CardChat } from "./card-chat.js";
import type { TaskView } from "./task-service.js";
import { isFinalState, type Task } from "./types.js";

/** Streamed output is shown at most this often per card; state changes at once. */
const DEFAULT_THROTTLE_MS = 300;

interface CardState {
  sending?: Promise<string | undefined>;
  messageId?: string;
  lastPatchAt: number;
  timer?: TimerHandle;
  next?: { task: Task; position?: number };
}

export interface LiveTaskCardsOptions {
  chat?: CardChat;
  /** Records the card's message id with the task (so a restart patches, never re-sends). */
  cardSent: (taskId: string, messageId: string) => Promise<void>;
  /** `mailbox.self`: named in the card's pointer to the full result. */
  self: string;
  throttleMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/**
 * One live card per task, a reply to the command: sent when the task is made, patched as it
 * runs (the outbound queue coalesces and paces patches within Feishu's limits per message),
 * and always ending in the final state — a final change is never throttled away.
 */
export class LiveTaskCards implements TaskView {
  private readonly cards = new Map<string, CardState>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly options: LiveTaskCardsOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "task-cards" });
  }

  opened(task: Task, position?: number): void {
    if (!task.place || !this.options.chat) return;
    const state = this.stateOf(task.id);
    if (state.sending || state.messageId) return;
    const chat = this.options.chat;
    const place = task.place;
    state.sending = chat
      .send({
        chatId: place.chatId,
        ...(place.replyTo ? { replyTo: place.replyTo } : {}),
        content: {
          kind: "card",
          card: this.render(task, position),
          fallbackText: taskFinalText(task, this.clock.now()),
        },
        // The same task never gets two cards, even when a restart sends again.
        uuid: postUuid(task.envelopeId, "card"),
      })
      .then(async (sent) => {
        state.messageId = sent.messageId;
        await this.options.cardSent(task.id, sent.messageId);
        return sent.messageId;
      })
      .catch((error: unknown) => {
        this.log.warn({ err: error, task: task.id }, "could not send the task card");
        return undefined;
      })
      .finally(() => {
        state.sending = undefined;
        // Whatever changed while the card was on its way is shown now.
        if (state.next) this.flush(task.id);
      });
  }

  changed(task: Task, position?: number): void {
    if (!task.place || !this.options.chat) return;
    const state = this.stateOf(task.id);
    state.messageId ??= task.place.cardMessageId;
    state.next = { task, ...(position !== undefined ? { position } : {}) };
    if (state.sending) return;
    if (!state.messageId) {
      this.opened(task, position);
      return;
    }
    const final = isFinalState(task.state);
    const wait = state.lastPatchAt + (this.options.throttleMs ?? DEFAULT_THROTTLE_MS) - this.clock.now();
    if (final || wait <= 0) {
      this.flush(task.id);
    } else if (!state.timer) {
      state.timer = this.clock.setTimeout(() => {
        state.timer = undefined;
        this.flush(task.id);
      }, wait);
      state.timer.unref();
    }
  }

  /**
   * The task layer stopped here (shutdown, or among replicas the "tasks" role moved on):
   * throttled updates are dropped, and so is any "running" card still waiting in the queue
   * (see `stillCurrent`), so it cannot land after the next holder's final card. Final cards
   * still go out: the task has ended whoever shows it.
   */
  stop(): void {
    this.stopped = true;
    for (const state of this.cards.values()) if (state.timer) this.clock.clearTimeout(state.timer);
    this.cards.clear();
  }

  private flush(id: string): void {
    const state = this.cards.get(id);
    if (!state?.next || !state.messageId || !this.options.chat) return;
    const { task, position } = state.next;
    state.next = undefined;
    if (state.timer) this.clock.clearTimeout(state.timer);
    state.timer = undefined;
    const final = isFinalState(task.state);
    if (this.stopped && !final) return;
    state.lastPatchAt = this.clock.now();
    if (final) this.cards.delete(id);
    void this.options.chat
      .patch(state.messageId, this.render(task, position), {
        chatId: task.place!.chatId,
        final,
        fullOutputRef: `/task ${task.id}`,
        stillCurrent: () => !this.stopped,
      })
      .catch((error: unknown) => this.log.warn({ err: error, task: id }, "could not update the task card"));
  }

  private render(task: Task, position?: number) {
    return taskCard(task, {
      now: this.clock.now(),
      ...(position !== undefined ? { queuePosition: position } : {}),
      selfInbox: this.options.self,
    });
  }

  private stateOf(id: string): CardState {
    let state = this.cards.get(id);
    if (!state) this.cards.set(id, (state = { lastPatchAt: 0 }));
    return state;
  }
}
