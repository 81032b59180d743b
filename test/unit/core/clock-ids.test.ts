import { describe, expect, it } from "vitest";
import { contentHash, isoWithOffset, newId, RecentIds } from "../../../src/core/index.js";
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
});
