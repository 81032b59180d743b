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
  chat?: CardChat;
  clock?: Clock;
  logger?: Logger;
}

/**
 * `/watch <node>`: one card per chat following what a node runs — its tasks and the
 * conversations the relay hands it, seen through its gateway (every session's chat events)
 * and the task service (mailbox-only nodes too) — until `/unwatch`. Watches live in memory:
 * after a restart, `/watch` again.
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
    const watch: Watch = { chatId, node, locale: ctx.locale, items: new Map(), off: [] };
    this.byChat.set(chatId, watch);
    for (const task of ctx.services.tasks.list(WATCH_ITEMS).reverse()) {
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
    watch.messageId = await ctx.replyCard(this.render(watch), tasksMessages.t(ctx.locale)("usageUnwatch"));
    if (previous) await ctx.reply(ctx.t("watchReplaced", { node, previous: previous.node }));
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
