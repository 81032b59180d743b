/**
 * How big a message `content` is where Feishu measures it: in the request body, where the
 * content (JSON text) is a JSON string again, so every `"` and `\` in it costs one byte
 * more. Counting there — not the raw string — keeps quote-heavy text and cards from
 * slipping over the limit.
 */
export function payloadBytes(content: string): number {
  return Buffer.byteLength(JSON.stringify(content), "utf8") - 2;
}

/** `payloadBytes(JSON.stringify({text}))` for an empty text: the fixed cost of a text content. */
export const TEXT_OVERHEAD_BYTES = payloadBytes(JSON.stringify({ text: "" }));

// Both escaping layers work character by character, so a text's size is the overhead plus
// the sum of its characters' costs; the table covers ASCII, where escapes live.
const ASCII_COST: readonly number[] = Array.from({ length: 128 }, (_, code) =>
  slowCost(String.fromCharCode(code)),
);

function slowCost(char: string): number {
  return payloadBytes(JSON.stringify(char).slice(1, -1));
}

/**
 * Payload bytes of one code point of a text message, given the code unit(s) at `index`;
 * `length` is how many UTF-16 units it spans (2 for a surrogate pair).
 */
export function charCost(text: string, index: number): { bytes: number; length: number } {
  const code = text.charCodeAt(index);
  if (code < 0x80) return { bytes: ASCII_COST[code]!, length: 1 };
  if (code < 0x800) return { bytes: 2, length: 1 };
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(index + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return { bytes: 4, length: 2 };
    return { bytes: LONE_SURROGATE_COST, length: 1 };
  }
  if (code >= 0xdc00 && code <= 0xdfff) return { bytes: LONE_SURROGATE_COST, length: 1 };
  return { bytes: 3, length: 1 };
}

// JSON.stringify writes a lone surrogate as `\udxxx`; escaped again that is `\\udxxx`.
const LONE_SURROGATE_COST = slowCost("\ud800");

/** Payload bytes of a text message with this text (what `textMaxBytes` limits). */
export function textPayloadBytes(text: string): number {
  return payloadBytes(JSON.stringify({ text }));
}
