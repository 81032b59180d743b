import { describe, expect, it } from "vitest";
import { checkMediaType, InFlight, toFeishuCardAnswer } from "../../../src/feishu/webhook/index.js";

describe("checkMediaType", () => {
  it.each([
    ["application/json", undefined],
    ["application/json; charset=utf-8", undefined],
    ["Application/JSON;charset=UTF-8", undefined],
    ['application/json; charset="utf-8"', undefined],
  ])("accepts %s", (type) => expect(checkMediaType(type)).toBeUndefined());

  it.each([
    [undefined],
    ["text/plain"],
    ["application/x-www-form-urlencoded"],
    ["application/jsonx"],
    ["application/json; charset=gbk"],
  ])("refuses %s", (type) => expect(checkMediaType(type)).toMatch(/content-type|charset/));

  it("refuses compressed bodies", () => {
    expect(checkMediaType("application/json", "gzip")).toMatch(/content-encoding/);
    expect(checkMediaType("application/json", "identity")).toBeUndefined();
  });
});

describe("toFeishuCardAnswer", () => {
  it("translates toast and card into Feishu's callback answer", () => {
    const card = { schema: "2.0", body: { elements: [{ tag: "markdown", content: "done" }] } };
    expect(toFeishuCardAnswer({ toast: { type: "success", content: "好的" }, card })).toEqual({
      toast: { type: "success", content: "好的" },
      card: { type: "raw", data: card },
    });
    expect(toFeishuCardAnswer({ toast: { type: "info", content: "x" } })).toEqual({
      toast: { type: "info", content: "x" },
    });
  });

  it("answers {} when there is nothing to show", () => {
    expect(toFeishuCardAnswer(undefined)).toEqual({});
    expect(toFeishuCardAnswer({})).toEqual({});
  });
});

describe("InFlight", () => {
  it("tracks tasks until they settle and never rejects", async () => {
    const inFlight = new InFlight();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ok = inFlight.run(async () => {
      await gate;
      return 7;
    });
    const failed = inFlight.run(() => {
      throw new Error("boom");
    });
    expect(inFlight.size).toBe(2);
    expect(await failed).toMatchObject({ ok: false, error: new Error("boom") });
    expect(await inFlight.drain(20)).toBe(false);
    release();
    expect(await inFlight.drain()).toBe(true);
    expect(await ok).toMatchObject({ ok: true, value: 7 });
    expect(inFlight.size).toBe(0);
  });

  it("drain also waits for tasks started while draining", async () => {
    const inFlight = new InFlight();
    let second: Promise<unknown> | undefined;
    const order: string[] = [];
    void inFlight.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      second = inFlight.run(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push("second");
      });
      order.push("first");
    });
    await inFlight.drain();
    expect(order).toEqual(["first", "second"]);
    expect(second).toBeDefined();
  });

  it("defers a task until after the current turn", async () => {
    const inFlight = new InFlight();
    let ran = false;
    const done = inFlight.run(() => (ran = true), { defer: true });
    await Promise.resolve();
    expect(ran).toBe(false);
    await done;
    expect(ran).toBe(true);
  });
});
