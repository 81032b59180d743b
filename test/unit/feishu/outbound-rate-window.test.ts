import { describe, expect, it } from "vitest";
import { RateWindow } from "../../../src/feishu/outbound/rate-window.js";

describe("RateWindow", () => {
  it("counts a call from its answer, so a slow call holds its slot longer", () => {
    const window = new RateWindow(2, 1000);
    const a = window.record(0);
    window.record(0);
    expect(window.delayMs(0)).toBeGreaterThan(0);
    window.settle(a, 300); // answered late: Feishu may have counted it as late as 300
    expect(window.delayMs(1000)).toBe(300);
    expect(window.delayMs(1300)).toBe(0);
  });

  it("keeps a slot taken while its call is still on the wire, however long that is", () => {
    const window = new RateWindow(1, 1000);
    const a = window.record(0);
    expect(window.delayMs(5_000)).toBeGreaterThan(0);
    window.settle(a, 5_000);
    expect(window.delayMs(5_999)).toBe(1);
    expect(window.delayMs(6_000)).toBe(0);
  });

  it("never waits while there is budget, and forgets answered calls after the window", () => {
    const window = new RateWindow(5, 1000);
    for (let i = 0; i < 4; i++) window.settle(window.record(i), i + 1);
    expect(window.delayMs(10)).toBe(0);
    expect(window.clearsInMs(10)).toBe(994);
    expect(window.clearsInMs(2_000)).toBe(0);
  });
});
