import { describe, expect, it } from "vitest";
import iconv from "iconv-lite";
import { decodeLine, parseEnvelopeLine } from "../../../src/mailbox/index.js";

const seed =
  '{"from":"instance-A","to":"instance-B","timestamp":"2026-02-14T18:40:00+08:00","type":"message","content":"你好，我是A实例，收到请回复"}';

describe("parseEnvelopeLine", () => {
  it("accepts the seed's five-field line and derives a stable id from file and content", () => {
    const a = parseEnvelopeLine(seed, "to-instance-B.jsonl");
    const b = parseEnvelopeLine(`  ${seed}  `, "to-instance-B.jsonl");
    const other = parseEnvelopeLine(seed, "to-instance-C.jsonl");
    expect(a.kind).toBe("envelope");
    if (a.kind !== "envelope" || b.kind !== "envelope" || other.kind !== "envelope") return;
    expect(a.envelope).toMatchObject({
      from: "instance-A",
      to: "instance-B",
      content: "你好，我是A实例，收到请回复",
    });
    expect(a.envelope.id).toMatch(/^[0-9a-f]{26}$/);
    expect(b.envelope.id).toBe(a.envelope.id);
    expect(other.envelope.id).not.toBe(a.envelope.id);
  });

  it("keeps an explicit id and unknown fields", () => {
    const line = JSON.stringify({
      ...JSON.parse(seed),
      id: "01HZZZZZZZZZZZZZZZZZZZZZZZ",
      priority: "high",
      hop: 2,
    });
    const parsed = parseEnvelopeLine(line, "to-instance-B.jsonl");
    expect(parsed).toMatchObject({
      kind: "envelope",
      envelope: { id: "01HZZZZZZZZZZZZZZZZZZZZZZZ", priority: "high", hop: 2 },
    });
  });

  it("says why a line is not an envelope", () => {
    const cases: [string, RegExp][] = [
      ['{"from":"a"', /^invalid JSON/],
      ["{", /one JSON object per line/],
      ['  "content": "x",', /one JSON object per line/],
      ["42", /not a JSON object/],
      [JSON.stringify({ ...JSON.parse(seed), to: "../x" }), /to must be a node name/],
      [JSON.stringify({ ...JSON.parse(seed), timestamp: "yesterday" }), /timestamp must be ISO 8601/],
      [JSON.stringify({ ...JSON.parse(seed), type: "chat" }), /type must be one of/],
      [JSON.stringify({ from: "a", to: "b" }), /timestamp.*type.*content|content/],
    ];
    for (const [line, reason] of cases) {
      const parsed = parseEnvelopeLine(line, "to-b.jsonl");
      expect(parsed.kind, line).toBe("invalid");
      if (parsed.kind === "invalid") expect(parsed.reason, line).toMatch(reason);
    }
    expect(parseEnvelopeLine("   ", "to-b.jsonl").kind).toBe("blank");
  });
});

describe("decodeLine", () => {
  it("reads UTF-8, drops a CR, falls back to GB18030", () => {
    expect(decodeLine(Buffer.from("你好\r"))).toEqual({ text: "你好", encoding: "utf-8" });
    expect(decodeLine(iconv.encode("收到请回复", "gb18030"))).toEqual({
      text: "收到请回复",
      encoding: "gb18030",
    });
  });
});
