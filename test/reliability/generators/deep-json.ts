import fc from "fast-check";
import { seedEnvelope } from "./mailbox-line.js";

/**
 * JSON nested `depth` levels deep, as text: arrays, objects, or both alternating. V8 parses
 * any depth, but `JSON.stringify` of the result overflows the stack at a few thousand levels —
 * which every journal write of an accepted envelope does.
 */
export function nested(depth: number, shape: "array" | "object" | "mixed"): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let level = 0; level < depth; level++) {
    const asArray = shape === "array" || (shape === "mixed" && level % 2 === 0);
    open.push(asArray ? "[" : '{"a":');
    close.push(asArray ? "]" : "}");
  }
  return `${open.join("")}0${close.reverse().join("")}`;
}

export interface DeepLine {
  /** Where the nesting sits: the whole line, a required field, or a field the schema does not know. */
  where: "whole line" | "content" | "extra field";
  text: string;
}

/** Deep nesting where an envelope cannot have it, or where it would be kept as an unknown field. */
export function deepLine(depthArb: fc.Arbitrary<number>, to: string): fc.Arbitrary<DeepLine> {
  const shape = fc.constantFrom("array" as const, "object" as const, "mixed" as const);
  return fc
    .tuple(depthArb, shape, fc.constantFrom("whole line", "content", "extra field"))
    .map(([depth, form, where]): DeepLine => {
      const inner = nested(depth, form);
      if (where === "whole line") return { where, text: inner };
      const envelope = JSON.stringify(seedEnvelope(to, "deep"));
      const withField =
        where === "content"
          ? envelope.replace('"content":"deep"', `"content":${inner}`)
          : `${envelope.slice(0, -1)},"meta":${inner}}`;
      return { where, text: withField };
    });
}
