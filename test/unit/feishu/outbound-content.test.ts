import { describe, expect, it } from "vitest";
import {
  fitText,
  MAX_UUID_LENGTH,
  noticeCard,
  payloadBytes,
  textFallbackUuid,
  textPayloadBytes,
  withUpdateMulti,
} from "../../../src/feishu/outbound/index.js";
import { outboundHarness } from "../../helpers/outbound-harness.js";

const BROKEN_PAIR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function expectWellFormed(value: string): void {
  expect(BROKEN_PAIR.test(value)).toBe(false);
  expect(Buffer.from(value, "utf8").toString("utf8")).toBe(value);
}

describe("payload size", () => {
  it("counts a text the way the request body carries it, character by character", () => {
    const samples = ["plain", 'quote " and back\\slash', "line\nbreak\ttab\u0001", "汉字🎉é", "\u2028"];
    for (const sample of samples) {
      expect(textPayloadBytes(sample)).toBe(payloadBytes(JSON.stringify({ text: sample })));
      expect(textPayloadBytes(sample)).toBeGreaterThanOrEqual(
        Buffer.byteLength(JSON.stringify({ text: sample })),
      );
    }
  });
});

describe("fitText", () => {
  const notice = "… (truncated — full output: mailbox/x.md)";

  it("leaves text that fits alone", () => {
    expect(fitText("short", { maxBytes: 1000, notice })).toEqual({ text: "short", truncated: false });
  });

  it("cuts ASCII to the limit and ends with the notice", () => {
    const source = "abcdefghij".repeat(100);
    const fitted = fitText(source, { maxBytes: 300, notice });
    expect(fitted.truncated).toBe(true);
    expect(fitted.text.endsWith(notice)).toBe(true);
    expect(source.startsWith(fitted.text.slice(0, -notice.length))).toBe(true);
    expect(textPayloadBytes(fitted.text)).toBeLessThanOrEqual(300);
    expect(textPayloadBytes(fitted.text)).toBeGreaterThan(300 - 4); // no byte wasted beyond a char
  });

  it("never splits a multi-byte character or a surrogate pair, at any limit", () => {
    const source = "中文输出：😀 第二行 🎉 αβγ 汉字".repeat(20) + '\n"quoted"\\';
    for (let maxBytes = 90; maxBytes < 700; maxBytes++) {
      const fitted = fitText(source, { maxBytes, notice });
      const kept = fitted.text.slice(0, -notice.length);
      expect(textPayloadBytes(fitted.text)).toBeLessThanOrEqual(maxBytes);
      expect(source.startsWith(kept)).toBe(true);
      expectWellFormed(fitted.text);
    }
  });

  it("keeps an emoji sequence whole", () => {
    const family = "👩‍👩‍👧‍👦"; // 4 emoji joined by ZWJ: one grapheme, 11 UTF-16 units
    const source = `ab${family}${family}${family}`;
    for (let maxBytes = 60; maxBytes < 200; maxBytes++) {
      const fitted = fitText(source, { maxBytes, notice: "…" });
      const kept = fitted.truncated ? fitted.text.slice(0, -1) : fitted.text;
      expect([
        "",
        "a",
        "ab",
        `ab${family}`,
        `ab${family}${family}`,
        `ab${family}${family}${family}`,
      ]).toContain(kept);
    }
  });

  it("adds the notice on its own line when asked to even though the text fits", () => {
    expect(fitText("summary", { maxBytes: 1000, notice, alwaysNotice: true })).toEqual({
      text: `summary\n${notice}`,
      truncated: true,
    });
  });
});

describe("cards and uuids", () => {
  it("withUpdateMulti leaves a card that has it, and template cards, as they are", () => {
    const ready = { config: { update_multi: true }, elements: [] };
    expect(withUpdateMulti(ready)).toBe(ready);
    const template = { type: "template", data: { template_id: "AAq" } };
    expect(withUpdateMulti(template)).toBe(template);
  });

  it("noticeCard keeps the schema and drops a header that would not fit", () => {
    const v1 = noticeCard({ header: { title: { content: "t".repeat(5000) } } }, "cut", 30 * 1024);
    expect(v1).not.toHaveProperty("header");
    expect(v1).toMatchObject({ config: { update_multi: true }, elements: [{ tag: "div" }] });
    expect(noticeCard({ schema: "2.0" }, "cut", 30 * 1024)).toMatchObject({
      schema: "2.0",
      body: { elements: [{ text: { content: "cut" } }] },
    });
  });

  it("derives a text uuid that differs, is stable and fits Feishu's 50 characters", () => {
    expect(textFallbackUuid("01JAAAAAAAAAAAAAAAAAAAAAAA")).toBe("01JAAAAAAAAAAAAAAAAAAAAAAA-t");
    const long = "x".repeat(MAX_UUID_LENGTH);
    expect(textFallbackUuid(long)).toHaveLength(MAX_UUID_LENGTH);
    expect(textFallbackUuid(long)).toBe(textFallbackUuid(long));
    expect(textFallbackUuid(long)).not.toBe(textFallbackUuid(`${"x".repeat(49)}y`));
  });
});

describe("OutboundQueue.send — over-size text", () => {
  const setup = (truncationNotice?: (pointer?: string) => string) =>
    outboundHarness({ limits: { textMaxBytes: 400 }, truncationNotice });

  it("cuts a long text at a character boundary and appends the notice with the pointer", async () => {
    const { api, queue } = setup();
    const source = "log line\n".repeat(200);
    const sent = await queue.send({
      chatId: "oc_x",
      content: { kind: "text", text: source },
      fullOutputRef: "out/a.md",
    });
    expect(sent.truncated).toBe(true);
    const [posted] = api.texts("oc_x");
    expect(posted!.endsWith("… (truncated — full output: out/a.md)")).toBe(true);
    expect(payloadBytes(api.messages("oc_x")[0]!.content)).toBeLessThanOrEqual(400);
    expect(queue.stats().truncated).toBe(1);
  });

  it("cuts Chinese text cleanly and uses a localised notice", async () => {
    const { api, queue } = setup((pointer) => `…（已截断，完整输出见 ${pointer ?? "邮箱"}）`);
    const source = "这是一个很长的输出，包含表情😀和标点。".repeat(40);
    const sent = await queue.send({ chatId: "oc_zh", content: { kind: "text", text: source } });
    expect(sent.truncated).toBe(true);
    const posted = api.texts("oc_zh")[0]!;
    expect(posted.endsWith("…（已截断，完整输出见 邮箱）")).toBe(true);
    expect(source.startsWith(posted.slice(0, posted.indexOf("…（")))).toBe(true);
    expectWellFormed(posted);
    expect(payloadBytes(api.messages("oc_zh")[0]!.content)).toBeLessThanOrEqual(400);
  });

  it("leaves text within the limit untouched (no truncated flag)", async () => {
    const { api, queue } = setup();
    const sent = await queue.send({ chatId: "oc_x", content: { kind: "text", text: "fits" } });
    expect(sent.truncated).toBeUndefined();
    expect(api.texts("oc_x")).toEqual(["fits"]);
  });
});
