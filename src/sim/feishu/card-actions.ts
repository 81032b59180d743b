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

  /**
   * A form's submit button pressed: like Feishu, the action carries that button's `name` and
   * `value` (a 2.0 button's callback behaviour value) along with the fields as `form_value`.
   */
  submit(
    messageId: string,
    operator: Person,
    formValue: Record<string, unknown>,
    options: { name?: string } = {},
  ): Emitted {
    const message = this.core.store.get(messageId);
    const button = message ? submitButton(message.content, options.name) : undefined;
    const name = options.name ?? (typeof button?.name === "string" ? button.name : undefined);
    return this.trigger(messageId, operator, { value: buttonValue(button), tag: "button", name, formValue });
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

/** The card's form submit button (the one named `name`, if given). */
function submitButton(card: unknown, name?: string): Record<string, unknown> | undefined {
  if (Array.isArray(card)) {
    for (const item of card) {
      const found = submitButton(item, name);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObject(card)) return undefined;
  if (
    card.tag === "button" &&
    card.form_action_type === "submit" &&
    (name === undefined || card.name === name)
  ) {
    return card;
  }
  for (const inner of Object.values(card)) {
    const found = submitButton(inner, name);
    if (found) return found;
  }
  return undefined;
}

/** What a button sends back: its callback behaviour's value (2.0) or its `value` (1.0). */
function buttonValue(button: Record<string, unknown> | undefined): unknown {
  if (!button) return {};
  const behaviors = Array.isArray(button.behaviors) ? button.behaviors : [];
  const callback = behaviors.find((b): b is Record<string, unknown> => isObject(b) && b.type === "callback");
  return callback?.value ?? button.value ?? {};
}
