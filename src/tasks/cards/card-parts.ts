import type { CardJson } from "../../feishu/index.js";

/** Header colours a schema 2.0 card takes (`header.template`). */
export type HeaderColor =
  | "blue"
  | "wathet"
  | "turquoise"
  | "green"
  | "yellow"
  | "orange"
  | "red"
  | "carmine"
  | "violet"
  | "purple"
  | "indigo"
  | "grey"
  | "default";

/** One entry of `body.elements` (or of a form's `elements`). */
export type CardElement = Record<string, unknown>;

/** What a button sends back: the callback handler receives it as `action.value`. */
export type ButtonValue = Record<string, string>;

/**
 * A schema 2.0 card. `update_multi` is the only value 2.0 allows and what live patches need;
 * the summary is what the chat list shows on a phone, so it repeats the title.
 */
export function card(title: string, color: HeaderColor, elements: CardElement[]): CardJson {
  return {
    schema: "2.0",
    config: { update_multi: true, summary: { content: title } },
    header: { title: { tag: "plain_text", content: title }, template: color },
    body: { elements },
  };
}

export interface TextStyle {
  color?: "default" | "grey" | "red" | "orange" | "green" | "blue";
  size?: "normal" | "notation";
}

/** Text shown exactly as written: no markdown, no mentions, no links. */
export function plainText(content: string, style: TextStyle = {}): CardElement {
  const text: Record<string, unknown> = { tag: "plain_text", content };
  if (style.size !== undefined) text.text_size = style.size;
  if (style.color !== undefined) text.text_color = style.color;
  return { tag: "div", text };
}

/** Markdown; every piece of it not written by the bridge must go through `escapeMarkdown`. */
export function markdown(content: string): CardElement {
  return { tag: "markdown", content };
}

export function divider(): CardElement {
  return { tag: "hr" };
}

export interface ButtonOptions {
  type?: "default" | "primary" | "danger" | "primary_filled";
  confirm?: { title: string; text: string };
}

/** A button whose press arrives as `card.action.trigger` with `action.value` = `value`. */
export function callbackButton(label: string, value: ButtonValue, options: ButtonOptions = {}): CardElement {
  const button: CardElement = {
    tag: "button",
    text: { tag: "plain_text", content: label },
    type: options.type ?? "default",
    behaviors: [{ type: "callback", value }],
  };
  if (options.confirm) {
    button.confirm = {
      title: { tag: "plain_text", content: options.confirm.title },
      text: { tag: "plain_text", content: options.confirm.text },
    };
  }
  return button;
}

/** Feishu refuses cards over 30 KiB; staying well under leaves room for the request around it. */
export const CARD_BUDGET_BYTES = 26 * 1024;

/**
 * A card's size where Feishu measures it: the card JSON is itself a JSON string inside the
 * request, so every `"` and `\` costs a byte more (the outbound queue measures the same way).
 */
export function cardBytes(card: CardJson): number {
  return Buffer.byteLength(JSON.stringify(JSON.stringify(card)), "utf8") - 2;
}

/**
 * The card built with the largest `limit` in [min, max] that fits the budget (or with `min`
 * when none does). `build` must grow with `limit` — more nodes, more output characters.
 */
export function largestFitting(
  build: (limit: number) => CardJson,
  min: number,
  max: number,
  budget = CARD_BUDGET_BYTES,
): CardJson {
  const first = build(max);
  if (max <= min || cardBytes(first) <= budget) return first;
  let best = build(min);
  if (cardBytes(best) > budget) return best;
  // Binary search with `best` = build(lo), which fits; a 50-node card is rebuilt about six times.
  let lo = min;
  let hi = max - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const candidate = build(mid);
    if (cardBytes(candidate) <= budget) {
      best = candidate;
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}
