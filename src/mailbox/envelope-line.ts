import { contentHash, parseEnvelope, type Envelope } from "../core/index.js";

export type ParsedLine =
  { kind: "envelope"; envelope: Envelope } | { kind: "blank" } | { kind: "invalid"; reason: string };

// Lines that only make sense as part of an object spread over several lines.
const PRETTY_PRINT_FRAGMENT = /^(?:[{}[\],]+|"[^"]*"\s*:.*)$/;
const BYTE_ORDER_MARK = 0xfeff;
const UTF16_REASON =
  "UTF-16 text (NUL between the characters), as Windows PowerShell 5 `>>` and Out-File write it: write UTF-8 (Out-File -Encoding utf8, or `clawbridge send`)";
/**
 * How deep an unknown field may nest. Every accepted envelope is written to a journal with
 * `JSON.stringify`, which overflows the stack at a few thousand levels: such a line would
 * fail at every retry and hold up its whole inbox.
 */
const MAX_FIELD_NESTING = 100;

/**
 * One text line of an inbox → an envelope with an id, or the reason it is not one. A line
 * without `id` (the seed's agents write none) gets one derived from its content and the
 * inbox file, so re-reading a rotated or edited file yields the same ids.
 */
export function parseEnvelopeLine(text: string, inboxFile: string): ParsedLine {
  // Files concatenated on Windows keep each one's BOM: invisible, and JSON does not allow it.
  if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
  let value: unknown;
  try {
    // JSON.parse skips surrounding white space itself: no trimmed copy of every line.
    value = JSON.parse(text);
  } catch (error) {
    const trimmed = text.trim();
    if (trimmed === "") return { kind: "blank" };
    if (looksLikeUtf16(text)) return { kind: "invalid", reason: UTF16_REASON };
    if (PRETTY_PRINT_FRAGMENT.test(trimmed)) {
      return {
        kind: "invalid",
        reason:
          "part of a JSON object spread over several lines (pretty-printed): write one JSON object per line",
      };
    }
    return { kind: "invalid", reason: `invalid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", reason: "not a JSON object: write one envelope object per line" };
  }
  // The value was parsed from this line just now: nobody else holds it.
  const result = parseEnvelope(value, { own: true });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join(".");
      return key ? `${key}: ${issue.message}` : issue.message;
    });
    return { kind: "invalid", reason: `not an envelope: ${problems.join("; ")}` };
  }
  const envelope = result.data;
  const deep = fieldNestedTooDeep(envelope);
  if (deep !== undefined) {
    return {
      kind: "invalid",
      reason: `not an envelope: ${deep}: nested deeper than ${MAX_FIELD_NESTING} levels`,
    };
  }
  // zod returned a fresh object: filling in the id in place saves a copy per line.
  envelope.id ??= contentHash([inboxFile, envelope.from, envelope.to, envelope.timestamp, envelope.content]);
  return { kind: "envelope", envelope: envelope as Envelope };
}

/** The first field whose value nests deeper than `MAX_FIELD_NESTING`, or undefined. */
function fieldNestedTooDeep(envelope: Record<string, unknown>): string | undefined {
  // Only unknown fields can hold objects: a typical line costs one typeof per field.
  for (const key in envelope) {
    const value = envelope[key];
    if (typeof value === "object" && value !== null && deeperThan(value, MAX_FIELD_NESTING)) return key;
  }
  return undefined;
}

/** Level by level, not recursively: a recursive walk would overflow on what it looks for. */
function deeperThan(root: object, limit: number): boolean {
  let level: unknown[] = [root];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > limit) return true;
    const next: unknown[] = [];
    for (const node of level) {
      for (const child of Object.values(node as object)) {
        if (typeof child === "object" && child !== null) next.push(child);
      }
    }
    level = next;
  }
  return false;
}

/** UTF-16 read as UTF-8: Latin text comes out with a NUL after every character. */
function looksLikeUtf16(text: string): boolean {
  let nul = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0) nul++;
  return nul > 0 && nul * 3 >= text.length;
}
