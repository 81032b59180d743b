import type { Config } from "../config/index.js";
import {
  DEFAULT_LOCALE,
  systemClock,
  type Clock,
  type Envelope,
  type JournalFactory,
  type Logger,
} from "../core/index.js";
import type { CardActionAnswer, CardActionEvent, InboundChatMessage } from "../feishu/index.js";
import type { GatewayClient } from "../gateway/index.js";
import type { MailboxStore } from "../mailbox/index.js";
import type { NodePool } from "../nodes/index.js";
import { AddressBook, postUuid, type Relay } from "../relay/index.js";
import { AccessPolicy } from "./access.js";
import { taskFinalText } from "./cards/index.js";
import { CardButtons } from "./card-buttons.js";
import type { CardChat } from "./card-chat.js";
import type { CommandServices } from "./command-context.js";
import { commandList } from "./commands/list.js";
import { LiveTaskCards } from "./live-cards.js";
import { MailboxIntake } from "./mailbox-intake.js";
import { PairingCards } from "./pairing-cards.js";
import { CommandRouter } from "./router.js";
import { TaskBoardWriter } from "./task-board-writer.js";
import { TaskJournal } from "./task-journal.js";
import { TaskService } from "./task-service.js";
import { Watches } from "./watches.js";

/** The parts of the config tasks read. */
export type TasksConfig = Pick<Config, "nodes" | "mailbox" | "relay" | "tasks" | "access" | "state"> & {
  feishu?: Pick<NonNullable<Config["feishu"]>, "locale" | "chats">;
};

export interface TasksPorts {
  relay: Pick<Relay, "submit" | "tell">;
  pool: NodePool;
  gateways: ReadonlyMap<string, GatewayClient>;
  mailbox: Pick<MailboxStore, "updateTaskBoard">;
  /** The Feishu outbound queue; absent without Feishu (tasks from agents still run). */
  chat?: CardChat;
  logger: Logger;
  clock?: Clock;
  /** Where the task journal is kept; default the file `state.dir/tasks.jsonl`. */
  journal?: JournalFactory;
}

/** The task layer as the composition root sees it. */
export interface Tasks {
  readonly service: TaskService;
  readonly router: CommandRouter;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every chat message Feishu delivers. */
  handleMessage(message: InboundChatMessage): Promise<void>;
  /** Buttons and forms on the bridge's cards. */
  handleCardAction(event: CardActionEvent): Promise<CardActionAnswer | undefined>;
  /** Every inbox line (after the relay saw it): task envelopes and answers addressed to the bridge. */
  handleMailbox(envelope: Envelope): Promise<void>;
  /** SIGHUP: `access` anew. */
  updateAccess(access: Config["access"]): void;
}

/** Builds the task layer from the config (ARCHITECTURE.md "Chat commands", "Nodes"). */
export function createTasks(config: TasksConfig, ports: TasksPorts): Tasks {
  const clock = ports.clock ?? systemClock;
  const locale = config.feishu?.locale ?? DEFAULT_LOCALE;
  const self = config.mailbox.self;
  const journal = new TaskJournal({
    stateDir: config.state.dir,
    logger: ports.logger,
    journal: ports.journal,
  });
  const nodes = config.nodes.map((n) => ({
    name: n.name,
    ...(n.displayName ? { displayName: n.displayName } : {}),
    agentId: n.agentId,
    hasGateway: Boolean(n.url),
    hasBot: Boolean(n.bot),
  }));
  const access = new AccessPolicy(
    config.access,
    nodes.map((n) => n.name),
  );
  const submit = (actions: Parameters<Relay["submit"]>[0]) => ports.relay.submit(actions);
  const service = new TaskService({
    journal,
    pool: ports.pool,
    gateways: ports.gateways,
    nodes,
    submit,
    self,
    timeoutMs: config.tasks.timeoutMs,
    maxQueued: config.tasks.maxQueued,
    finalText: taskFinalText,
    logger: ports.logger,
    clock,
  });
  service.view = new LiveTaskCards({
    ...(ports.chat ? { chat: ports.chat } : {}),
    cardSent: (id, messageId) => service.cardSent(id, messageId),
    self,
    clock,
    logger: ports.logger,
  });
  const watches = new Watches({
    gateways: ports.gateways,
    tasks: service,
    journal,
    ...(ports.chat ? { chat: ports.chat } : {}),
    clock,
    logger: ports.logger,
  });
  const services: CommandServices = {
    tasks: service,
    pool: ports.pool,
    journal,
    access,
    nodes,
    book: new AddressBook(
      config.nodes.map((n) => ({ node: n.name, displayName: n.displayName, botName: n.bot?.name })),
    ),
    watches,
    tell: (request) => ports.relay.tell(request),
    self,
    now: () => clock.now(),
  };
  const chat = ports.chat;
  const router = new CommandRouter({
    commands: commandList(),
    services,
    locale,
    logger: ports.logger,
    replies: {
      text: (message, text, n) =>
        ports.relay.submit([
          {
            kind: "post",
            place: { chatId: message.chatId, replyTo: message.messageId },
            text,
            uuid: postUuid(message.messageId, `r${n}`),
          },
        ]),
      card: async (message, card, fallbackText, n) => {
        if (!chat) return undefined;
        const sent = await chat.send({
          chatId: message.chatId,
          replyTo: message.messageId,
          content: { kind: "card", card, fallbackText },
          uuid: postUuid(message.messageId, `c${n}`),
        });
        return sent.messageId;
      },
    },
  });
  const buttons = new CardButtons({
    tasks: service,
    access,
    pool: ports.pool,
    services,
    ...(chat ? { chat } : {}),
    self,
    locale,
    clock,
    logger: ports.logger,
  });
  const intake = new MailboxIntake({
    self,
    tasks: service,
    journal,
    access,
    services,
    submit,
    locale,
    clock,
    logger: ports.logger,
  });
  const pairing = new PairingCards({
    pool: ports.pool,
    journal,
    ...(chat ? { chat } : {}),
    chats: config.relay.auditChat ? [config.relay.auditChat] : (config.feishu?.chats ?? []),
    locale,
    logger: ports.logger,
  });
  const board = new TaskBoardWriter(service, ports.mailbox, { clock, logger: ports.logger });
  return {
    service,
    router,
    start: async () => {
      await service.start();
      board.start();
      pairing.start();
      watches.restore();
    },
    stop: async () => {
      await watches.stop();
      await pairing.stop();
      await board.stop();
      await service.stop();
    },
    handleMessage: (message) => router.handle(message),
    handleCardAction: (event) => buttons.handle(event),
    handleMailbox: (envelope) => intake.handle(envelope),
    updateAccess: (next) => access.update(next),
  };
}
