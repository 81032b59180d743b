import type { CardJson } from "../types.js";
import { payloadBytes } from "./payload-bytes.js";

// A header bigger than this is not worth keeping on a notice card: the notice matters more.
const MAX_KEPT_HEADER_BYTES = 2 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Schema 2.0 cards say so (`schema: "2.0"`); everything else is the 1.0 layout. */
export function isSchema2(card: CardJson): boolean {
  return card.schema === "2.0";
}

/**
 * The card with `config.update_multi: true`, so a patch reaches everyone and not only the
 * sender (FEISHU-PLATFORM.md). Schema 1.0 and 2.0 both keep `config` at the top. The
 * caller's object is never modified. Template cards (`type: "template"`) carry their config
 * in the card builder and are returned as they are.
 */
export function withUpdateMulti(card: CardJson): CardJson {
  if (card.type === "template") return card;
  const config = isRecord(card.config) ? card.config : {};
  if (config.update_multi === true) return card;
  return { ...card, config: { ...config, update_multi: true } };
}

/** The card as the `content` of a send or patch. */
export function cardContent(card: CardJson): string {
  return JSON.stringify(withUpdateMulti(card));
}

/**
 * The card a patch uses instead of one over the size limit: the original header (when it is
 * small) and one plain-text line with the truncation notice, in the same schema as the
 * original (Feishu refuses to turn a 2.0 card back into a 1.0 one). Plain text, so a pointer
 * with `_` or `*` in it is shown as written.
 */
export function noticeCard(original: CardJson, notice: string, maxBytes: number): CardJson {
  const text = { tag: "div", text: { tag: "plain_text", content: notice } };
  const build = (withHeader: boolean): CardJson => {
    const header =
      withHeader &&
      isRecord(original.header) &&
      payloadBytes(JSON.stringify(original.header)) <= MAX_KEPT_HEADER_BYTES
        ? { header: original.header }
        : {};
    return isSchema2(original)
      ? { schema: "2.0", config: { update_multi: true }, ...header, body: { elements: [text] } }
      : { config: { update_multi: true, wide_screen_mode: true }, ...header, elements: [text] };
  };
  const full = build(true);
  return payloadBytes(JSON.stringify(full)) <= maxBytes ? full : build(false);
}
