import { silentLogger, type Locale, type Logger } from "../core/index.js";
import type { NodeHealth, NodePool } from "../nodes/index.js";
import { pairingCard } from "./cards/index.js";
import type { CardChat } from "./card-chat.js";
import type { PairingCardRecord, TaskJournal } from "./task-journal.js";

export interface PairingCardsOptions {
  pool: NodePool;
  journal: TaskJournal;
  chat?: CardChat;
  /** Where the card goes: `relay.auditChat`, or every served chat when there is none. */
  chats: readonly string[];
  locale: Locale;
  logger?: Logger;
}

/**
 * A node that needs pairing gets ONE card (per chat), patched when its request id changes
 * and turned into "connected" once approved — never re-posted on every retry, and not after
 * a restart either: the card's message ids are journaled.
 */
export class PairingCards {
  private readonly log: Logger;
  private off?: () => void;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: PairingCardsOptions) {
    this.log = (options.logger ?? silentLogger()).child({ component: "pairing-cards" });
  }

  start(): void {
    this.off = this.options.pool.onChange(({ node }) => this.enqueue(node));
    for (const node of this.options.pool.health()) this.enqueue(node);
  }

  stop(): Promise<void> {
    this.off?.();
    return this.chain;
  }

  /** One change at a time: two quick changes must not post two cards. */
  private enqueue(node: NodeHealth): void {
    this.chain = this.chain
      .then(() => this.show(node))
      .catch((error: unknown) => this.log.warn({ err: error, node: node.name }, "pairing card not updated"));
  }

  private async show(node: NodeHealth): Promise<void> {
    const { journal, chat, chats, locale } = this.options;
    if (!chat) return;
    const record = journal.pairingCards().find((card) => card.node === node.name);
    if (node.status === "pairing" && node.pairing) {
      const card = pairingCard(node.name, node.pairing, "pairing", locale);
      if (!record) {
        if (chats.length === 0) {
          this.log.warn(
            { node: node.name, command: node.pairing.command },
            "a node needs pairing, and there is no chat to say so in: set relay.auditChat or feishu.chats",
          );
          return;
        }
        const messages: PairingCardRecord["messages"] = [];
        for (const chatId of chats) {
          const sent = await chat.send({
            chatId,
            content: { kind: "card", card, fallbackText: node.pairing.command },
            uuid: `pair-${node.name}-${node.pairing.requestId}`.slice(0, 50),
          });
          messages.push({ chatId, messageId: sent.messageId });
        }
        await journal.putPairing({
          node: node.name,
          requestId: node.pairing.requestId,
          messages,
          connected: false,
        });
        this.log.info({ node: node.name, chats: messages.length }, "pairing card posted");
      } else if (record.requestId !== node.pairing.requestId) {
        await this.patchAll(record, card);
        await journal.putPairing({ ...record, requestId: node.pairing.requestId });
      }
    } else if (record && node.status === "online") {
      await this.patchAll(record, pairingCard(node.name, undefined, "connected", locale));
      await journal.dropPairing(node.name);
      this.log.info({ node: node.name }, "pairing card turned to connected");
    }
  }

  private async patchAll(record: PairingCardRecord, card: Record<string, unknown>): Promise<void> {
    for (const { chatId, messageId } of record.messages) {
      await this.options.chat!.patch(messageId, card, { chatId });
    }
  }
}
