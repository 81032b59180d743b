const ELLIPSIS = "…";

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** The first `max` characters (an emoji is never cut in half), with "…" when shortened. */
export function clipHead(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  return `${text.slice(0, end).trimEnd()}${ELLIPSIS}`;
}

/** One line of at most `max` characters: for reasons, names, problems in a narrow card. */
export function foldLine(text: string, max: number): string {
  // Only the start can show; collapsing whitespace in a megabyte to keep 300 characters is waste.
  let head = text.length > max * 8 ? text.slice(0, max * 8) : text;
  if (head.length < text.length && isHighSurrogate(head.charCodeAt(head.length - 1)))
    head = head.slice(0, -1);
  return clipHead(head.replace(/\s+/g, " ").trim(), max);
}

export interface Tail {
  text: string;
  /** True when lines or characters were left out at the start. */
  cut: boolean;
}

/**
 * The end of a text: its last `lines` lines, at most `chars` characters, starting at a line
 * boundary when it can (a half line reads like garbage) and marked with "…" when cut.
 * Trailing blank lines, which streamed output often ends with, do not count. Only the end
 * is looked at, so a megabyte of output costs no more than a page.
 */
export function tailText(text: string, lines: number, chars: number): Tail {
  const whole = text.trimEnd();
  const wanted = Math.max(1, lines);
  // The "…" line takes two of the characters.
  const floor = Math.max(0, whole.length - Math.max(1, chars - 2));
  // Walk back over `wanted` line breaks, no further than the character budget reaches.
  let start = 0;
  let at = whole.length;
  for (let count = 0; count < wanted && at > 0; count++) {
    at = whole.lastIndexOf("\n", at - 1);
    if (at < floor) break;
    if (count === wanted - 1) start = at + 1;
  }
  let kept = whole;
  if (start > 0) {
    kept = whole.slice(start);
  } else if (floor > 0) {
    const from = isLowSurrogate(whole.charCodeAt(floor)) ? floor + 1 : floor;
    const tail = whole.slice(from);
    const newline = tail.indexOf("\n");
    // Drop the partial first line unless it is all there is.
    kept = newline >= 0 && newline < tail.length - 1 ? tail.slice(newline + 1) : tail;
  }
  const shown = kept.replace(/\r\n/g, "\n");
  return kept === whole ? { text: shown, cut: false } : { text: `${ELLIPSIS}\n${shown}`, cut: true };
}
