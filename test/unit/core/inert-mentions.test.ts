import { describe, expect, it } from "vitest";
import { inertMentions } from "../../../src/core/index.js";

describe("inertMentions", () => {
  it("turns a complete mention tag into plain @Name", () => {
    expect(inertMentions('<at user_id="ou_x">AI-PC 助手</at> 跑一下')).toBe("@AI-PC 助手 跑一下");
  });

  it("breaks what is left of tags and @所有人 / @all without changing what people read", () => {
    const text = '<at user_id="all"></at> @所有人 @all <AT id=ou_1> <at user_id="all">所有人</at>';
    const inert = inertMentions(text);
    expect(inert).not.toMatch(/<\s*at/i);
    expect(inert).not.toMatch(/@(所有人|all)/i);
    expect(inert.replace(/\u200b/g, "")).toBe('<at user_id="all"></at> @所有人 @all <AT id=ou_1> @所有人');
  });

  it("leaves ordinary text alone", () => {
    expect(inertMentions("email me at a@b.c, <b>bold</b>, @ai-pc")).toBe(
      "email me at a@b.c, <b>bold</b>, @ai-pc",
    );
  });
});
