import { charCost, TEXT_OVERHEAD_BYTES, textPayloadBytes } from "./payload-bytes.js";

/** A text ready to send, and whether it had to be cut. */
export interface FittedText {
  text: string;
  truncated: boolean;
}

export interface FitTextOptions {
  /** Largest payload (see `payloadBytes`) the text message may have. */
  maxBytes: number;
  /** Appended where the text is cut. */
  notice: string;
  /**
   * Append the notice even when the text fits (on its own line): used when the text stands
   * in for a card that was too big, so the reader knows there is more elsewhere.
   */
  alwaysNotice?: boolean;
}

// Grapheme boundaries are looked up only this far around the cut: enough for any emoji
// sequence or combining run a person writes, cheap on a 150 KiB text.
const GRAPHEME_WINDOW = 32;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Fits `text` into a text message of at most `maxBytes`: unchanged when it fits, otherwise
 * the longest prefix that leaves room for the notice, cut between characters — never inside
 * a surrogate pair or a multi-byte character, and not inside an emoji or accent sequence
 * when a boundary is near — followed by the notice.
 */
export function fitText(
  text: string,
  { maxBytes, notice, alwaysNotice = false }: FitTextOptions,
): FittedText {
  if (alwaysNotice) {
    const withNotice = `${text}\n${notice}`;
    if (textPayloadBytes(withNotice) <= maxBytes) return { text: withNotice, truncated: true };
  } else if (textPayloadBytes(text) <= maxBytes) {
    return { text, truncated: false };
  }
  const noticeBytes = textPayloadBytes(notice) - TEXT_OVERHEAD_BYTES;
  const budget = maxBytes - TEXT_OVERHEAD_BYTES - noticeBytes;
  // A limit smaller than the notice itself (only in odd configurations): cut the notice.
  if (budget < 0) return { text: prefixWithin(notice, maxBytes - TEXT_OVERHEAD_BYTES), truncated: true };
  return { text: prefixWithin(text, budget) + notice, truncated: true };
}

/** The longest prefix of `text` whose characters cost at most `budget` bytes, at a grapheme boundary. */
function prefixWithin(text: string, budget: number): string {
  let used = 0;
  let cut = 0;
  while (cut < text.length) {
    const { bytes, length } = charCost(text, cut);
    if (used + bytes > budget) break;
    used += bytes;
    cut += length;
  }
  return text.slice(0, graphemeBoundaryAtOrBefore(text, cut));
}

/** `cut` moved back to the start of the grapheme it falls in (`cut` is a code point boundary). */
function graphemeBoundaryAtOrBefore(text: string, cut: number): number {
  if (cut <= 0 || cut >= text.length) return cut;
  let start = Math.max(0, cut - GRAPHEME_WINDOW);
  // Start the window on a code point, or the segmenter would see a broken pair.
  if (start > 0 && isLowSurrogate(text.charCodeAt(start))) start -= 1;
  const window = text.slice(start, Math.min(text.length, cut + GRAPHEME_WINDOW));
  let best = -1;
  for (const { index } of segmenter.segment(window)) {
    if (start + index > cut) break;
    // The window's own first boundary is only trustworthy at the start of the text.
    if (index > 0 || start === 0) best = start + index;
  }
  return best > 0 ? best : cut;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
