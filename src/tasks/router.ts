import { isFencedError } from "../cluster/index.js";
import { closestKey, isClawbridgeError, nodeKey, type Locale, type Logger } from "../core/index.js";
import type { CardJson, InboundChatMessage } from "../feishu/index.js";
import type { CommandContext, Command, CommandServices } from "./command-context.js";
import { tasksMessages } from "./messages.js";
import { refusal } from "./refusal.js";

export type Middleware = (ctx: CommandContext, next: () => Promise<void>) => Promise<void>;

/** How the router answers; the app wires these to the relay's chat outbox and the card sender. */
export interface RouterReplies {
  text(message: InboundChatMessage, text: string, n: number): Promise<void>;
  card(
    message: InboundChatMessage,
    card: CardJson,
    fallbackText: string,
    n: number,
  ): Promise<string | undefined>;
}

export interface CommandRouterOptions {
  commands: readonly Command[];
  services: CommandServices;
  replies: RouterReplies;
  locale: Locale;
  logger: Logger;
}

/** `/run …`, `／run …` (a full-width slash from a Chinese keyboard): the word and the rest. */
const COMMAND = /^[/\uFF0F](\S+)\s*([\s\S]*)$/;

/**
 * The chat command router: every message Feishu hands the bridge goes through a short
 * chain of middleware over one context — addressed to the bridge? which command? allowed?
 * — and then to its command. Nothing addressed to the bridge goes unanswered; whatever is
 * ignored is logged at debug with the reason.
 */
export class CommandRouter {
  private readonly byWord = new Map<string, Command>();
  private readonly chain: Middleware[];
  private readonly log: Logger;

  constructor(private readonly options: CommandRouterOptions) {
    this.log = options.logger.child({ component: "commands" });
    for (const command of options.commands) {
      for (const word of [command.name, ...command.aliases]) this.byWord.set(word.toLowerCase(), command);
    }
    this.chain = [addressed, this.parse, this.resolve, allowed];
  }

  /** The commands, in /help order. */
  get commands(): readonly Command[] {
    return this.options.commands;
  }

  /** Adds a middleware before the command runs (after access is checked). */
  use(middleware: Middleware): this {
    this.chain.push(middleware);
    return this;
  }

  async handle(message: InboundChatMessage): Promise<void> {
    const ctx = this.context(message);
    const chain = [...this.chain];
    const run = async (index: number): Promise<void> => {
      const middleware = chain[index];
      if (middleware) return middleware(ctx, () => run(index + 1));
      const command = commandOf(ctx);
      if (command) await command.run(ctx);
    };
    try {
      await run(0);
    } catch (error) {
      if (isFencedError(error)) {
        // The tasks role moved to another replica mid-command (this one was paused past its
        // lease): the next holder handles the command again from the shared intake, so the
        // person hears its answer from there, not an error from here.
        ctx.log.warn(
          { err: error, command: ctx.command?.name },
          "command left to the next holder of the tasks role",
        );
        throw error;
      }
      // Said in the chat as well as logged: a command must never vanish without an answer.
      ctx.log.error({ err: error, command: ctx.command?.name }, "command failed");
      const reason = isClawbridgeError(error) ? error.describe(ctx.locale) : ctx.t("commandFailedGeneric");
      try {
        await ctx.reply(ctx.t("commandFailed", { reason }));
      } catch (replyError) {
        // Not even the answer could be recorded (the state folder is full): the person would hear
        // nothing and the command would be gone. Failing the event lets Feishu's retry bring it again.
        ctx.log.error({ err: replyError, command: ctx.command?.name }, "could not answer a failed command");
        throw error;
      }
      // Otherwise the event is not retried: the person has the answer, and a retry could run it twice.
    }
  }

  private context(message: InboundChatMessage): CommandContext {
    const { locale, services, replies } = this.options;
    let n = 0;
    const ctx: CommandContext = {
      message,
      locale,
      t: tasksMessages.t(locale),
      log: this.log.child({ chatId: message.chatId, messageId: message.messageId }),
      sender: {
        openId: message.sender.openId,
        ...(message.sender.unionId ? { unionId: message.sender.unionId } : {}),
      },
      access: services.access.of(message.sender.openId),
      services,
      args: "",
      reply: (text) => replies.text(message, text, n++),
      replyCard: (card, fallbackText) => replies.card(message, card, fallbackText, n++),
    };
    return ctx;
  }

  /** Finds the command word, or treats `@bridge @<node> …` as /tell and a bare mention as /help. */
  private readonly parse: Middleware = async (ctx, next) => {
    const text = ctx.message.textWithoutBridgeMention.trim();
    const match = COMMAND.exec(text);
    if (match) {
      ctx.word = match[1]!;
      ctx.args = match[2]!.trim();
      return next();
    }
    // `@bridge @<node> text`, for nodes without a bot of their own (Feishu resolved the @ to a
    // name). A node's own bot hears people itself: that mention is the node's business.
    const { book, nodes } = ctx.services;
    const viaBridge = book
      .addressees(text)
      .find((a) => nodes.some((n) => nodeKey(n.name) === nodeKey(a.node) && !n.hasBot));
    if (viaBridge) {
      ctx.word = "tell";
      ctx.args = `${viaBridge.node} ${text.replace(viaBridge.match, "").trim()}`.trim();
      return next();
    }
    ctx.word = "help";
    ctx.args = "brief";
    return next();
  };

  private readonly resolve: Middleware = async (ctx, next) => {
    const word = (ctx.word ?? "").toLowerCase();
    const command = this.byWord.get(word);
    if (command) {
      ctx.command = command;
      return next();
    }
    const near = closestKey(word, [...this.byWord.keys()]);
    const suggested = near ? this.byWord.get(near) : undefined;
    ctx.log.debug({ word, suggestion: suggested?.name }, "unknown command answered with usage");
    const lines = [
      ctx.t("unknownCommand", { command: `/${ctx.word}` }) +
        (suggested ? ctx.t("didYouMean", { name: `/${suggested.name}` }) : ""),
      ctx.t("usagePrefix", { usage: ctx.t(suggested?.usage ?? "usageHelp") }),
    ];
    await ctx.reply(lines.join("\n"));
  };
}

/** Only people's messages to the bridge (an @mention in a group, anything in a direct chat). */
const addressed: Middleware = async (ctx, next) => {
  const { message } = ctx;
  if (message.sender.type !== "user") {
    ctx.log.debug({ reason: "from a bot" }, "message ignored");
    return;
  }
  if (!message.mentionsBridge && message.chatType !== "p2p") {
    ctx.log.debug({ reason: "not addressed to the bridge" }, "message ignored");
    return;
  }
  return next();
};

/** A dispatcher-only command refuses everyone else, saying why and who grants access. */
const allowed: Middleware = async (ctx, next) => {
  const command = commandOf(ctx);
  if (command?.needs === "dispatch" && !ctx.access.canDispatch) {
    ctx.log.info({ command: command.name, openId: ctx.sender.openId }, "command refused: not a dispatcher");
    await ctx.reply(refusal(ctx.t, ctx.services.access, ctx.sender.openId, command.action ?? "actionRun"));
    return;
  }
  return next();
};

function commandOf(ctx: CommandContext): Command | undefined {
  return ctx.command;
}
