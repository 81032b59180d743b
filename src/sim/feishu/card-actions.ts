import { isCard } from "./content.js";
import { isObject, type Core } from "./core.js";
import { cardActionEvent, type CardAction } from "./event-builder.js";
import type { DeliveryResult, Emitted, Person, Toast } from "./types.js";

/**
 * Button clicks and form submits on cards: a `card.action.trigger` push to the app that
 * sent the card. The answer's `toast` is kept and its `card` replaces the message's card
 * at once (recorded as a patch `via: "callback"`), as the Feishu client would show it.
 */
export class CardActions {
  /** The toast of the newest card-action answer that carried one. */
  lastToast?: Toast;

  constructor(private readonly core: Core) {}

  click(
    messageId: string,
    operator: Person,
    value: unknown,
    options: { tag?: string; name?: string } = {},
  ): Emitted {
    return this.trigger(messageId, operator, { value, tag: options.tag ?? "button", name: options.name });
  }

  submit(
    messageId: string,
    operator: Person,
    formValue: Record<string, unknown>,
    options: { name?: string } = {},
  ): Emitted {
    return this.trigger(messageId, operator, { value: {}, tag: "button", name: options.name, formValue });
  }

  private trigger(messageId: string, operator: Person, action: CardAction): Emitted {
    const { dir, store, dispatcher } = this.core;
    const message = store.get(messageId);
    if (!message) throw new Error(`unknown message ${messageId}`);
    if (message.msgType !== "interactive" || !message.senderAppId) {
      throw new Error(`message ${messageId} is not a card sent by an app`);
    }
    const app = dir.app(message.senderAppId);
    const envelope = cardActionEvent(dir, app, message, operator, action);
    const delivered = dispatcher
      .deliver(app, envelope, { messageId })
      .then((result) => (this.apply(messageId, answerOf(result)), result));
    return {
      eventId: envelope.header.event_id,
      messageId,
      delivered,
      deliveries: { [app.appId]: delivered },
    };
  }

  private apply(messageId: string, answer: unknown): void {
    if (!isObject(answer)) return;
    if (isObject(answer.toast)) this.lastToast = answer.toast as Toast;
    const card = answer.card;
    if (!isObject(card)) return;
    // `{type: "raw", data: <card>}` is the documented form; a bare card JSON is accepted too.
    const bare = isCard(card) || card.type === "template";
    const next = card.type === "raw" ? card.data : bare ? card : undefined;
    if (next !== undefined) this.core.store.patch(messageId, next, "callback");
  }
}

/** The receiver's answer: the ack's decoded `data` (long connection) or the HTTP body (webhook). */
export function answerOf(result: DeliveryResult): unknown {
  if (result.via === "websocket") return result.data;
  if (result.via === "webhook") return result.body;
  return undefined;
}
