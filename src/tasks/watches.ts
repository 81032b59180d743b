import {
  silentLogger,
  systemClock,
  type Clock,
  type Locale,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import type { GatewayClient, ObservedEvent } from "../gateway/index.js";
import { taskStateLabel, watchCard, type WatchItem } from "./cards/index.js";
import type { CardChat } from "./card-chat.js";
import type { CommandContext } from "./command-context.js";
import { tasksMessages } from "./messages.js";
import type { TaskJournal, WatchRecord } from "./task-journal.js";
import type { TaskService } from "./task-service.js";
import type { Task } from "./types.js";

/** A watch card is patched at most this often (Feishu allows 5 patches a second per message). */
const WATCH_PATCH_MS = 1_000;
/** Runs a watch card remembers; the card shows the newest few. */
const WATCH_ITEMS = 10;

interface Watch {
  chatId: string;
  node: string;
  locale: Locale;
  messageId?: string;
  items: Map<string, WatchItem>;
  timer?: TimerHandle;
  off: (() => void)[];
}

export interface WatchesOptions {
  gateways: ReadonlyMap<string, GatewayClient>;
  tasks: TaskService;
  /** Where watches are kept, so a restart follows them on (the same card) until `/unwatch`. */
  journal?: TaskJournal;
  chat?: CardChat;
  clock?: Clock;
  logger?: Logger;
}

/**
 * `/watch <node>`: one card per chat following what a node runs — its tasks and the
 * conversations the relay hands it, seen through its gateway (every session's chat events)
 * and the task service (mailbox-only nodes too) — until `/unwatch`. Watches are journaled:
 * after a restart each goes on in its card (what the node ran meanwhile shows as its tasks).
 */
export class Watches {
  private readonly byChat = new Map<string, Watch>();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: WatchesOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "watches" });
  }

  async watch(ctx: CommandContext, node: string): Promise<void> {
    const chatId = ctx.message.chatId;
    const previous = this.byChat.get(chatId);
    if (previous) await this.end(previous);
    const watch = this.follow({ chatId, node, locale: ctx.locale });
    watch.messageId = await ctx.replyCard(this.render(watch), tasksMessages.t(ctx.locale)("usageUnwatch"));
    if (watch.messageId && this.byChat.get(chatId) === watch) {
      await this.options.journal
        ?.putWatch({ chatId, node, locale: ctx.locale, messageId: watch.messageId })
        .catch((error: unknown) => this.log.warn({ err: error, chatId }, "could not journal the watch"));
    }
    if (previous) await ctx.reply(ctx.t("watchReplaced", { node, previous: previous.node }));
  }

  /** After a restart: the journaled watches follow their nodes again, each card patched now. */
  restore(): void {
    for (const record of this.options.journal?.watches() ?? []) {
      if (this.byChat.has(record.chatId)) continue;
      const watch = this.follow(record);
      watch.messageId = record.messageId;
      this.schedule(watch);
    }
  }

  /** A chat's watch, subscribed to the node's runs and tasks; shows its latest tasks at once. */
  private follow(where: Pick<WatchRecord, "chatId" | "node" | "locale">): Watch {
    const { chatId, node, locale } = where;
    const watch: Watch = { chatId, node, locale, items: new Map(), off: [] };
    this.byChat.set(chatId, watch);
    for (const task of this.options.tasks.list(WATCH_ITEMS).reverse()) {
      if (task.node === node) this.fromTask(watch, task);
    }
    const gateway = this.options.gateways.get(node);
    if (gateway) watch.off.push(gateway.observe((event) => this.fromEvent(watch, event), { kind: "chat" }));
    watch.off.push(
      this.options.tasks.onChange((task) => {
        if (task.node !== node) return;
        this.fromTask(watch, task);
        this.schedule(watch);
      }),
    );
    return watch;
  }

  /** Stops the chat's watch; resolves with the node it followed. */
  async unwatch(chatId: string): Promise<string | undefined> {
    const watch = this.byChat.get(chatId);
    if (!watch) return undefined;
    await this.end(watch);
    return watch.node;
  }

  /** Which node a chat watches. */
  watching(chatId: string): string | undefined {
    return this.byChat.get(chatId)?.node;
  }

  async stop(): Promise<void> {
    for (const watch of [...this.byChat.values()]) {
      for (const off of watch.off.splice(0)) off();
      if (watch.timer) this.clock.clearTimeout(watch.timer);
    }
    this.byChat.clear();
  }

  private async end(watch: Watch): Promise<void> {
    this.byChat.delete(watch.chatId);
    await this.options.journal
      ?.dropWatch(watch.chatId)
      .catch((error: unknown) =>
        this.log.warn({ err: error, chatId: watch.chatId }, "could not journal the unwatch"),
      );
    for (const off of watch.off.splice(0)) off();
    if (watch.timer) this.clock.clearTimeout(watch.timer);
    watch.timer = undefined;
    if (watch.messageId && this.options.chat) {
      await this.options.chat
        .patch(watch.messageId, this.render(watch, true), { chatId: watch.chatId, final: true })
        .catch((error: unknown) => this.log.warn({ err: error }, "could not patch the watch card"));
    }
  }

  private fromEvent(watch: Watch, event: ObservedEvent): void {
    const taskId = /:clawbridge:task-(T\d+)$/i.exec(event.sessionKey)?.[1];
    const key = taskId ?? event.runId ?? event.sessionKey;
    const before = watch.items.get(key);
    const t = tasksMessages.t(watch.locale);
    this.put(watch, key, {
      kind: taskId ? "task" : "conversation",
      // A task's entry keeps the title the task service gave it (id and prompt).
      title: before?.title ?? taskId ?? event.session.rest ?? event.sessionKey,
      state: event.state === "delta" ? t("watchRunning") : event.state,
      text: event.text || before?.text || "",
      at: event.at,
    });
    this.schedule(watch);
  }

  private fromTask(watch: Watch, task: Task): void {
    this.put(watch, task.id, {
      kind: "task",
      title: `${task.id} · ${task.prompt.slice(0, 40)}`,
      state: taskStateLabel(task.state, watch.locale),
      text: task.output || watch.items.get(task.id)?.text || "",
      at: task.endedAt ?? task.startedAt ?? task.createdAt,
    });
  }

  private put(watch: Watch, key: string, item: WatchItem): void {
    watch.items.delete(key);
    watch.items.set(key, item);
    while (watch.items.size > WATCH_ITEMS) watch.items.delete(watch.items.keys().next().value!);
  }

  /** Coalesces a burst of deltas into one patch a second. */
  private schedule(watch: Watch): void {
    if (watch.timer || !watch.messageId || !this.options.chat) return;
    watch.timer = this.clock.setTimeout(() => {
      watch.timer = undefined;
      if (this.byChat.get(watch.chatId) !== watch || !watch.messageId) return;
      void this.options
        .chat!.patch(watch.messageId, this.render(watch), { chatId: watch.chatId })
        .catch((error: unknown) => this.log.warn({ err: error }, "could not patch the watch card"));
    }, WATCH_PATCH_MS);
    watch.timer.unref();
  }

  private render(watch: Watch, stopped = false) {
    const items = [...watch.items.values()].reverse();
    return watchCard(watch.node, items, { now: this.clock.now(), stopped, locale: watch.locale });
  }
}
