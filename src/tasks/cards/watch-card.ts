import type { Locale } from "../../core/index.js";
import type { CardJson } from "../../feishu/index.js";
import { card, divider, largestFitting, plainText, type CardElement } from "./card-parts.js";
import { foldLine, tailText } from "./clip-text.js";
import { timeAgo } from "./durations.js";
import { taskCardsMessages as m } from "./messages.js";

/** One thing a watched node did: a task it ran or a conversation it took part in. */
export interface WatchItem {
  kind: "task" | "conversation";
  /** "T7", "office-mac → ai-pc". */
  title: string;
  /** Already in the chat's words ("运行中", "已完成"). */
  state: string;
  /** Its output or latest text. */
  text: string;
  /** When it last changed (ms since the epoch). */
  at: number;
}

export interface WatchCardOptions {
  now: number;
  locale: Locale;
  /** After /unwatch: the card's last patch, saying it no longer follows the node. */
  stopped?: boolean;
}

export const MAX_WATCH_ITEMS = 5;
const ITEM_LINES = 10;
const ITEM_CHARS = 1000;
const MIN_ITEM_CHARS = 100;

/**
 * `/watch <node>`: the node's newest runs (at most five, each folded to its last ten lines,
 * in `plain_text`), until `/unwatch`; the stopped card says so in its header.
 */
export function watchCard(node: string, items: WatchItem[], opts: WatchCardOptions): CardJson {
  const t = m.t(opts.locale);
  const newest = [...items].sort((a, b) => b.at - a.at);
  const shown = newest.slice(0, MAX_WATCH_ITEMS);
  const title = opts.stopped ? t("watchStoppedTitle", { node }) : t("watchTitle", { node });
  const build = (chars: number): CardJson => {
    const elements: CardElement[] = [];
    if (shown.length === 0) elements.push(plainText(t("watchIdle", { node }), { color: "grey" }));
    shown.forEach((item, index) => {
      if (index > 0) elements.push(divider());
      const kind = item.kind === "task" ? t("kindTask") : t("kindConversation");
      const head = [`${kind} ${foldLine(item.title, 60)}`, foldLine(item.state, 40)];
      head.push(timeAgo(item.at, opts.now, opts.locale));
      elements.push(plainText(head.join(" · "), { color: "grey", size: "notation" }));
      if (item.text.trim() !== "") elements.push(plainText(tailText(item.text, ITEM_LINES, chars).text));
    });
    if (newest.length > shown.length) {
      elements.push(plainText(t("watchMore", { count: newest.length - shown.length }), { color: "grey" }));
    }
    if (!opts.stopped) elements.push(plainText(t("watchHint"), { color: "grey", size: "notation" }));
    return card(title, opts.stopped ? "grey" : "blue", elements);
  };
  return largestFitting(build, MIN_ITEM_CHARS, ITEM_CHARS);
}
