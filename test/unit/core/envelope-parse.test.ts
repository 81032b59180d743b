import { describe, expect, it } from "vitest";
import { envelopeSchema, isValidTarget, parseEnvelope } from "../../../src/core/index.js";

const base = {
  from: "office-mac",
  to: "ai-pc",
  timestamp: "2026-02-14T18:40:00+08:00",
  type: "message",
  content: "帮我跑一下 benchmark",
};

/** One change at a time to a valid envelope: each field given good, edge and bad values. */
const variations: Record<string, unknown[]> = {
  from: [
    "",
    " ",
    "  office-mac  ",
    "x".repeat(256),
    "x".repeat(257),
    ` ${"x".repeat(256)} `,
    5,
    null,
    "user:ou_1",
  ],
  to: ["ai-pc", "AI_PC-2", "", "../x", "a".repeat(63), "a".repeat(64), "-ai", "办公", 1],
  timestamp: [
    "2026-02-14T18:40:00Z",
    "2026-02-14T18:40:00.123456+08:00",
    "2026-02-14T18:40:00",
    "2026-02-30T18:40:00+08:00",
    "2028-02-29T00:00:00+00:00",
    "2026-02-14 18:40:00+08:00",
    "2026-02-14T24:00:00+08:00",
    "2026-02-14T18:40+08:00",
    "",
    0,
  ],
  type: ["message", "task", "result", "event", "Message", "", undefined, 3],
  content: ["", "\n", "x".repeat(100_000), 1, null, undefined, ["a"]],
  id: [undefined, "01JABC", "a:b.c-d_e", "", "has space", "x".repeat(128), "x".repeat(129), 7],
  replyTo: [undefined, "x".repeat(128), "x".repeat(129), 1],
  conversation: [undefined, "x".repeat(256), "x".repeat(257)],
  hop: [undefined, 0, 3, -1, 1.5, "1", Number.NaN, Infinity],
  taskId: [undefined, "t-1", "x".repeat(129)],
  source: [undefined, "clawbridge", "x".repeat(65)],
  delivered: [undefined, "gateway", 2],
  name: [undefined, "小王", "x".repeat(257)],
  target: [
    undefined,
    "ai-pc",
    "AI_PC-2",
    "a".repeat(63),
    "a".repeat(64),
    "#gpu",
    "#GPU_2-x",
    "#显卡",
    `#${"g".repeat(63)}`,
    `#${"g".repeat(64)}`,
    `#${"😀".repeat(40)}`,
    "#",
    "##gpu",
    "#gpu tag",
    "#gpu,cpu",
    "#gpu\n",
    "ai-pc\n",
    "gpu#",
    "-ai",
    "办公",
    "",
    " ai-pc",
    5,
    null,
    ["ai-pc"],
  ],
  extra: [undefined, { nested: true }, "kept"],
};

describe("parseEnvelope (the fast path) agrees with envelopeSchema", () => {
  it("accepts and rejects exactly what the schema does, with the same result", () => {
    let compared = 0;
    for (const [field, values] of Object.entries(variations)) {
      for (const value of values) {
        const candidate: Record<string, unknown> = { ...base, [field]: value };
        if (value === undefined) delete candidate[field];
        const ours = parseEnvelope(structuredClone(candidate));
        const zods = envelopeSchema.safeParse(structuredClone(candidate));
        expect(ours.success, `${field} = ${JSON.stringify(value)?.slice(0, 40)}`).toBe(zods.success);
        if (ours.success && zods.success) expect(ours.data).toEqual(zods.data);
        compared++;
      }
    }
    for (const odd of [null, [], "x", 1, [base]]) {
      expect(parseEnvelope(odd).success).toBe(envelopeSchema.safeParse(odd).success);
    }
    expect(compared).toBeGreaterThan(100);
  });

  it("takes a node name or #tag as target, and nothing else", () => {
    const accepts = (target: unknown) => envelopeSchema.safeParse({ ...base, type: "task", target }).success;
    expect(["ai-pc", "#gpu", "#显卡", `#${"g".repeat(63)}`].map(accepts)).toEqual([true, true, true, true]);
    expect(["#", "gpu#", "#a b", `#${"g".repeat(64)}`, "", 1].map(accepts)).toEqual(Array(6).fill(false));
    expect(isValidTarget("#gpu")).toBe(true);
    expect(isValidTarget("../x")).toBe(false);
    // The fast path itself takes them (with `own`, only it hands back the very same object).
    for (const target of ["ai-pc", "#gpu", "#显卡"]) {
      const mine = { ...base, type: "task", target };
      const parsed = parseEnvelope(mine, { own: true });
      expect(parsed.success && parsed.data, target).toBe(mine);
    }
  });

  it("returns the caller's own object with `from` trimmed when asked, a copy otherwise", () => {
    const mine = { ...base, from: "  office-mac " };
    const owned = parseEnvelope(mine, { own: true });
    expect(owned.success && owned.data).toBe(mine);
    expect(mine.from).toBe("office-mac");
    const other = { ...base, from: " office-mac" };
    const copied = parseEnvelope(other);
    expect(copied.success && copied.data).not.toBe(other);
    expect(other.from).toBe(" office-mac");
  });
});
