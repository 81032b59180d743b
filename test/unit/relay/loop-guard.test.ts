import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/index.js";
import { describeStop, LoopGuard, type Admission, type Refusal } from "../../../src/relay/loop-guard.js";
import { relayMessages } from "../../../src/relay/messages.js";

function guard(
  options: Partial<{ maxHops: number; perPairPerMinute: number; cooldownSeconds: number }> = {},
) {
  const clock = new ManualClock();
  const loop = new LoopGuard({ maxHops: 4, perPairPerMinute: 20, cooldownSeconds: 60, clock, ...options });
  return { clock, loop };
}

function refused(admission: Admission): Refusal {
  if (admission.ok) throw new Error("expected a refusal");
  return admission;
}

describe("LoopGuard hops", () => {
  it("admits up to maxHops and refuses beyond, naming the pair sorted", () => {
    const { loop } = guard();
    expect(loop.admit({ from: "office-mac", to: "ai-pc", hop: 4 })).toEqual({ ok: true });
    expect(loop.admit({ from: "office-mac", to: "ai-pc", hop: 5 })).toEqual({
      ok: false,
      reason: "hops",
      pair: "ai-pc ↔ office-mac",
      limit: 4,
      announce: true,
    });
  });

  it("announces a hop stop once per pair and conversation, again after 10 minutes at most", () => {
    const { clock, loop } = guard();
    const over = (conversation?: string, from = "office-mac", to = "ai-pc") =>
      refused(loop.admit({ from, to, hop: 9, conversation })).announce;
    expect(over("oc_1")).toBe(true);
    expect(over("oc_1", "ai-pc", "office-mac")).toBe(false);
    expect(over("oc_2")).toBe(true);
    expect(over()).toBe(true);
    expect(over()).toBe(false);
    expect(over("oc_1", "office-mac", "nas-agent")).toBe(true);
    clock.advance(9 * 60_000);
    expect(over("oc_1")).toBe(false);
    clock.advance(60_000);
    expect(over("oc_1")).toBe(true);
    expect(over("oc_1")).toBe(false);
  });

  it("does not count a refused hop against the budget", () => {
    const { loop } = guard({ perPairPerMinute: 1 });
    expect(loop.admit({ from: "a", to: "b", hop: 5 }).ok).toBe(false);
    expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
  });
});

describe("LoopGuard budget", () => {
  it("shares one budget between a → b and b → a, then cools the pair down once", () => {
    const { clock, loop } = guard({ perPairPerMinute: 3, cooldownSeconds: 60 });
    expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
    expect(loop.admit({ from: "b", to: "a", hop: 1 }).ok).toBe(true);
    expect(loop.admit({ from: "A", to: "b", hop: 1 }).ok).toBe(true);
    // Another pair has its own budget.
    expect(loop.admit({ from: "a", to: "c", hop: 1 }).ok).toBe(true);
    const start = clock.now();
    expect(loop.admit({ from: "b", to: "a", hop: 1 })).toEqual({
      ok: false,
      reason: "budget",
      pair: "a ↔ b",
      until: start + 60_000,
      limit: 3,
      resumesInSeconds: 60,
      announce: true,
    });
    clock.advance(30_000);
    const during = refused(loop.admit({ from: "a", to: "b", hop: 1 }));
    expect(during).toMatchObject({
      reason: "budget",
      until: start + 60_000,
      resumesInSeconds: 30,
      announce: false,
    });
    clock.advance(29_999);
    expect(refused(loop.admit({ from: "a", to: "b", hop: 1 })).announce).toBe(false);
    clock.advance(1);
    // After the pause the pair starts fresh: a whole budget, and the next pause is announced again.
    for (let i = 0; i < 3; i++) expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
    expect(refused(loop.admit({ from: "a", to: "b", hop: 1 })).announce).toBe(true);
  });

  it("counts in a sliding 60 s window", () => {
    const { clock, loop } = guard({ perPairPerMinute: 2 });
    expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
    clock.advance(40_000);
    expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
    clock.advance(20_000);
    // The first forward is 60 s old: out of the window.
    expect(loop.admit({ from: "a", to: "b", hop: 1 }).ok).toBe(true);
    clock.advance(19_999);
    expect(refused(loop.admit({ from: "a", to: "b", hop: 1 })).reason).toBe("budget");
  });

  it("checks hops before the budget", () => {
    const { loop } = guard({ perPairPerMinute: 1 });
    loop.admit({ from: "a", to: "b", hop: 1 });
    expect(refused(loop.admit({ from: "a", to: "b", hop: 1 })).reason).toBe("budget");
    expect(refused(loop.admit({ from: "a", to: "b", hop: 5 }))).toMatchObject({
      reason: "hops",
      announce: true,
    });
  });
});

describe("LoopGuard memory", () => {
  it("forgets pairs and conversations idle for more than an hour, but not a pair still cooling down", () => {
    const { clock, loop } = guard({ perPairPerMinute: 1, cooldownSeconds: 3 * 3600 });
    for (let i = 0; i < 50; i++) {
      loop.admit({ from: `n${i}`, to: "hub", hop: 1 });
      loop.admit({ from: `n${i}`, to: "hub", hop: 9, conversation: `oc_${i}` });
    }
    loop.admit({ from: "x", to: "y", hop: 1 });
    expect(refused(loop.admit({ from: "x", to: "y", hop: 1 })).announce).toBe(true);
    expect(loop.size).toBe(101);
    clock.advance(60 * 60_000);
    loop.admit({ from: "p", to: "q", hop: 1 });
    expect(loop.size).toBe(102);
    clock.advance(60_001);
    loop.admit({ from: "p", to: "q", hop: 1 });
    expect(loop.size).toBe(2);
    // The cooling pair was kept, and its pause is not announced a second time.
    expect(refused(loop.admit({ from: "y", to: "x", hop: 1 })).announce).toBe(false);
  });

  it("refuses nonsense limits", () => {
    expect(() => new LoopGuard({ maxHops: 0, perPairPerMinute: 1, cooldownSeconds: 1 })).toThrow(RangeError);
    expect(() => new LoopGuard({ maxHops: 1, perPairPerMinute: Number.NaN, cooldownSeconds: 1 })).toThrow(
      RangeError,
    );
  });
});

describe("describeStop", () => {
  it("says each stop in zh-CN and en", () => {
    const { loop } = guard({ perPairPerMinute: 20, cooldownSeconds: 60 });
    const hops = refused(loop.admit({ from: "office-mac", to: "ai-pc", hop: 5 }));
    for (let i = 0; i < 20; i++) loop.admit({ from: "office-mac", to: "ai-pc", hop: 1 });
    const budget = refused(loop.admit({ from: "office-mac", to: "ai-pc", hop: 1 }));
    const zh = relayMessages.t("zh-CN");
    const en = relayMessages.t("en");
    expect(describeStop(hops, zh)).toBe("已停止 ai-pc ↔ office-mac 的自动对话（超过 4 跳）");
    expect(describeStop(budget, zh)).toBe(
      "已暂停 ai-pc ↔ office-mac 的自动对话：1 分钟内转发超过 20 次，60 秒后恢复",
    );
    expect(describeStop(hops, en)).toBe(
      "Stopped the automatic conversation ai-pc ↔ office-mac (more than 4 hops)",
    );
    expect(describeStop(budget, en)).toBe(
      "Paused the automatic conversation ai-pc ↔ office-mac: more than 20 forwards in a minute; resumes in 60 s",
    );
  });
});
