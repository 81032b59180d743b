import { contentHash, parseEnvelope, type Envelope } from "../core/index.js";

export type ParsedLine =
  { kind: "envelope"; envelope: Envelope } | { kind: "blank" } | { kind: "invalid"; reason: string };

// Lines that only make sense as part of an object spread over several lines.
const PRETTY_PRINT_FRAGMENT = /^(?:[{}[\],]+|"[^"]*"\s*:.*)$/;

/**
 * One text line of an inbox → an envelope with an id, or the reason it is not one. A line
 * without `id` (the seed's agents write none) gets one derived from its content and the
 * inbox file, so re-reading a rotated or edited file yields the same ids.
 */
export function parseEnvelopeLine(text: string, inboxFile: string): ParsedLine {
  let value: unknown;
  try {
    // JSON.parse skips surrounding white space itself: no trimmed copy of every line.
    value = JSON.parse(text);
  } catch (error) {
    const trimmed = text.trim();
    if (trimmed === "") return { kind: "blank" };
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
  // zod returned a fresh object: filling in the id in place saves a copy per line.
  envelope.id ??= contentHash([inboxFile, envelope.from, envelope.to, envelope.timestamp, envelope.content]);
  return { kind: "envelope", envelope: envelope as Envelope };
}
