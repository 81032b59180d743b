import { describe, expect, it } from "vitest";
import { contentHash, isoWithOffset, ManualClock, newId, RecentIds, sleep } from "../../../src/core/index.js";
import { envelopeSchema } from "../../../src/core/index.js";

describe("isoWithOffset", () => {
  it("writes local time with its offset, as the seed does", () => {
    const ms = Date.parse("2026-02-14T10:40:00Z");
    expect(isoWithOffset(ms, 480)).toBe("2026-02-14T18:40:00.000+08:00");
    expect(isoWithOffset(ms, -330)).toBe("2026-02-14T05:10:00.000-05:30");
    expect(isoWithOffset(ms, 0)).toBe("2026-02-14T10:40:00.000+00:00");
    expect(envelopeSchema.shape.timestamp.safeParse(isoWithOffset(Date.now())).success).toBe(true);
  });
});

describe("ids", () => {
  it("ULIDs sort by creation, even within one millisecond", () => {
    const ids = Array.from({ length: 1000 }, () => newId(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
    expect(ids[0]).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("content hashes keep part boundaries", () => {
    expect(contentHash(["ab", "c"])).not.toBe(contentHash(["a", "bc"]));
    expect(contentHash(["a"])).toHaveLength(26);
  });
});

describe("RecentIds", () => {
  it("forgets the oldest beyond capacity", () => {
    const recent = new RecentIds(3);
    for (const id of ["a", "b", "c", "d"]) recent.add(id);
    expect(recent.has("a")).toBe(false);
    expect(recent.has("d")).toBe(true);
    expect(recent.add("d")).toBe(false);
    expect(recent.size).toBe(3);
  });

  it("gives its ids oldest first, before and after it fills, also with a lazy index", () => {
    for (const indexLazily of [false, true]) {
      const recent = new RecentIds(4, { indexLazily });
      for (const id of ["a", "b", "c"]) recent.add(id);
      expect([...recent.values()]).toEqual(["a", "b", "c"]);
      for (const id of ["d", "e", "f"]) recent.add(id);
      expect([...recent.values()]).toEqual(["c", "d", "e", "f"]);
      expect(recent.has("b")).toBe(false);
      expect(recent.has("c")).toBe(true);
      expect(recent.size).toBe(4);
    }
    // A large capacity costs nothing until ids come.
    const roomy = new RecentIds(5_000_000);
    roomy.add("x");
    expect([...roomy.values()]).toEqual(["x"]);
  });
});

describe("ManualClock", () => {
  it("fires timers only when moved past them, in time order, each seeing its own time", () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    const cancelled = clock.setTimeout(() => fired.push("never"), 15);
    clock.clearTimeout(cancelled);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(100);
    expect(fired).toEqual(["a@10", "b@20"]);
    expect(clock.now()).toBe(109);
    expect(clock.pendingTimers).toBe(0);
  });

  it("repeats intervals and lets promise chains started by a timer settle with advanceAsync", async () => {
    const clock = new ManualClock(0);
    let ticks = 0;
    const interval = clock.setInterval(() => ticks++, 10);
    clock.advance(35);
    expect(ticks).toBe(3);
    clock.clearInterval(interval);
    const steps: number[] = [];
    const chain = async () => {
      await sleep(clock, 100);
      steps.push(clock.now());
      await sleep(clock, 100);
      steps.push(clock.now());
    };
    const done = chain();
    await clock.advanceAsync(250);
    await done;
    expect(steps).toEqual([135, 235]);
  });
});
