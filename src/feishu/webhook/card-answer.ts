import type { CardActionAnswer } from "../types.js";

/**
 * The JSON body Feishu expects in answer to a `card.action.trigger` callback:
 * `{toast: {type, content}, card: {type: "raw", data: <card JSON>}}`, either part optional;
 * `{}` changes nothing on the user's screen.
 */
export function toFeishuCardAnswer(answer: CardActionAnswer | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (answer?.toast) body.toast = { type: answer.toast.type, content: answer.toast.content };
  if (answer?.card) body.card = { type: "raw", data: answer.card };
  return body;
}

/** Whether a verified payload is a card button click, select or form submit. */
export function isCardActionPayload(eventType: string | undefined): boolean {
  return eventType === "card.action.trigger";
}
