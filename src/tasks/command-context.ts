import type { Locale, Logger, Translate } from "../core/index.js";
import type { CardJson, InboundChatMessage } from "../feishu/index.js";
import type { NodePool } from "../nodes/index.js";
import type { AddressBook, TellRequest } from "../relay/index.js";
import type { AccessPolicy, Permissions } from "./access.js";
import type { TasksMessageKey } from "./messages.js";
import type { TaskJournal } from "./task-journal.js";
import type { TaskService } from "./task-service.js";
import type { Watches } from "./watches.js";

/** A configured node as commands show and address it. */
export interface CommandNode {
  name: string;
  displayName?: string;
  hasGateway: boolean;
  /** Has its own Feishu bot (`nodes[].bot`): people @mention that bot, not the bridge. */
  hasBot: boolean;
}

/** What commands reach: the task service, the pool, the relay's /tell route, access. */
export interface CommandServices {
  tasks: TaskService;
  pool: NodePool;
  journal: TaskJournal;
  access: AccessPolicy;
  nodes: readonly CommandNode[];
  book: AddressBook;
  watches: Watches;
  tell(request: TellRequest): Promise<unknown>;
  /** `mailbox.self`: the bridge's own inbox name (people's results go there). */
  self: string;
  now(): number;
}

/** One message addressed to the bridge, as every middleware and command sees it. */
export interface CommandContext {
  readonly message: InboundChatMessage;
  readonly locale: Locale;
  /** Text in the chat's language. */
  readonly t: Translate<TasksMessageKey>;
  readonly log: Logger;
  readonly sender: { openId: string; unionId?: string };
  readonly access: Permissions;
  readonly services: CommandServices;
  /** The command word as typed, without the slash (`rn`), once parsed. */
  word?: string;
  /** The command it names, once resolved. */
  command?: Command;
  /** Everything after the command word, trimmed. */
  args: string;
  /** Answers in the thread of the message (durably queued, posted once). */
  reply(text: string): Promise<void>;
  /** Answers with a card; resolves with its message id once Feishu posted it. */
  replyCard(card: CardJson, fallbackText: string): Promise<string | undefined>;
}

/** One chat command; adding a command is adding one file with one of these. */
export interface Command {
  name: string;
  /** Other words for it (the Chinese alias first). */
  aliases: readonly string[];
  /** Its usage line, shown by /help and after bad arguments. */
  usage: TasksMessageKey;
  /** `dispatch`: only access.dispatchers (and admins); the refusal names `action`. */
  needs: "anyone" | "dispatch";
  action?: TasksMessageKey;
  run(ctx: CommandContext): Promise<void>;
}
