import fc from "fast-check";
import { notANodeName } from "./node-names.js";

/**
 * Values each envelope field must refuse, by the contract's table (ARCHITECTURE.md "One
 * message model"): the wrong JSON type, or a string outside the field's rule. Lengths are
 * ASCII so "too long" means the same in bytes and in UTF-16 units.
 */
const notAString: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }),
);

const longer = (min: number) => fc.integer({ min, max: min + 300 }).map((n) => "x".repeat(n));

const notAHop: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ max: -1 }),
  fc
    .double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
    .filter((d) => !Number.isInteger(d)),
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);

export const WRONG_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  from: fc.oneof(notAString, fc.constantFrom("", "   ", "\t \t"), longer(257)),
  to: fc.oneof(notAString, notANodeName),
  timestamp: fc.oneof(
    notAString,
    fc.constantFrom(
      "",
      "2026-02-14T18:40:00",
      "2026-02-14",
      "yesterday",
      "1707900000",
      "2026-13-01T00:00:00Z",
      "2026-02-14T25:40:00+08:00",
      "2026-02-30T18:40:00+08:00",
    ),
  ),
  type: fc.oneof(notAString, fc.constantFrom("", "Message", "MESSAGE", "msg", "tasks", "message ", "reply")),
  content: notAString,
  id: fc.oneof(notAString, fc.constantFrom("", "a b", "../x", "id/1", "中文", "x\u0000"), longer(129)),
  replyTo: fc.oneof(notAString, longer(129)),
  conversation: fc.oneof(notAString, longer(257)),
  hop: notAHop,
  taskId: fc.oneof(notAString, longer(129)),
  source: fc.oneof(notAString, longer(65)),
  delivered: fc.oneof(notAString, longer(65)),
  name: fc.oneof(notAString, longer(257)),
  target: fc.oneof(notAString, fc.constantFrom("", "#", "# x", "a b", "#a,b", "#a#b", "../x"), longer(65)),
};

export const REQUIRED_FIELDS = ["from", "to", "timestamp", "type", "content"] as const;

/** One field of an otherwise valid envelope set to a value it must refuse. */
export const wrongField: fc.Arbitrary<{ field: string; value: unknown }> = fc
  .constantFrom(...Object.keys(WRONG_VALUES))
  .chain((field) => WRONG_VALUES[field]!.map((value) => ({ field, value })));

/** A non-empty set of required fields to leave out. */
export const missingFields: fc.Arbitrary<string[]> = fc.subarray([...REQUIRED_FIELDS], { minLength: 1 });

/**
 * Lines that are JSON-ish but no envelope object: other JSON values, a pretty-printed
 * object's lines, two objects on a line, trailing text, comments, JSON5.
 */
export const notAnEnvelopeObject = (valid: string): fc.Arbitrary<{ shape: string; text: string }> =>
  fc.oneof(
    fc
      .jsonValue({ maxDepth: 2 })
      .filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
      .map((v) => ({ shape: "JSON value, not an object", text: JSON.stringify(v) })),
    fc.constantFrom("{", "}", "[", "],", '"from": "nas-agent",', '  "content": "hi"', "},{").map((text) => ({
      shape: "pretty-printed fragment",
      text,
    })),
    fc.constant({ shape: "two objects on one line", text: `${valid}${valid}` }),
    fc.constant({ shape: "two objects, comma", text: `${valid},${valid}` }),
    fc.string({ minLength: 1, maxLength: 10 }).map((tail) => ({
      shape: "trailing text",
      text: `${valid} x${tail.replace(/\n/g, "")}`,
    })),
    fc.constant({ shape: "comment", text: `${valid} // sent by me` }),
    fc.constant({ shape: "JSON5", text: valid.replace(/"(\w+)":/g, "$1:").replace(/"/g, "'") }),
    fc.constant({ shape: "truncated", text: valid.slice(0, -1) }),
  );
