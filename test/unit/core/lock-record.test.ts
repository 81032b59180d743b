import { describe, expect, it } from "vitest";
import { judgeLock, parseLockRecord, serializeLockRecord, type SeenLock } from "../../../src/core/index.js";

const me = { host: "ai-pc", pid: 100 };
const alive = (pid: number) => pid !== 666;
const seen = (record: object | undefined, mtimeMs = 1_000): SeenLock => {
  const text = record ? JSON.stringify(record) : "{half";
  return { text, record: parseLockRecord(text), mtimeMs };
};

describe("the one lock record and staleness rule", () => {
  it("reads records tolerantly (BOM, extra fields, missing since) and refuses what is not one", () => {
    expect(parseLockRecord('\uFEFF{"host":"h","pid":1,"heartbeat":"x"}')).toEqual({
      host: "h",
      pid: 1,
      since: "?",
      heartbeat: "x",
    });
    expect(parseLockRecord('{"host":"h"}')).toBeUndefined();
    expect(parseLockRecord("{half")).toBeUndefined();
    expect(serializeLockRecord({ host: "h", pid: 1, since: "s" })).toBe('{"host":"h","pid":1,"since":"s"}\n');
  });

  it("holds a live holder's lock until its age limit, by the file server's clock", () => {
    const lock = seen({ host: "nas", pid: 7, since: "s" }, 1_000);
    expect(judgeLock(lock, me, { staleAfterMs: 10_000 }, 5_000, alive)).toEqual({
      free: false,
      ageMs: 4_000,
    });
    expect(judgeLock(lock, me, { staleAfterMs: 10_000 }, 11_001, alive)).toMatchObject({
      free: true,
      why: "stale",
    });
    // No age limit (the state folder's lock): held however old.
    expect(judgeLock(lock, me, {}, 1e12, alive).free).toBe(false);
  });

  it("frees at once a lock of this host whose pid is gone, or that names this very process", () => {
    expect(judgeLock(seen({ host: "ai-pc", pid: 666, since: "s" }), me, {}, 1_000, alive)).toMatchObject({
      free: true,
      why: "holder-gone",
    });
    expect(judgeLock(seen({ host: "ai-pc", pid: 100, since: "s" }), me, {}, 1_000, alive)).toMatchObject({
      free: true,
      why: "own-leftover",
    });
    // A pid on another host means nothing here.
    expect(judgeLock(seen({ host: "nas", pid: 666, since: "s" }), me, {}, 1_000, alive).free).toBe(false);
  });

  it("frees a foreign host's lock only in a local folder, and an unreadable one after its grace", () => {
    const foreign = seen({ host: "old-laptop", pid: 7, since: "s" });
    expect(judgeLock(foreign, me, { localOnly: true }, 1_000, alive)).toMatchObject({
      free: true,
      why: "foreign-host",
    });
    expect(judgeLock(foreign, me, {}, 1_000, alive).free).toBe(false);
    const unreadable = seen(undefined, 1_000);
    expect(judgeLock(unreadable, me, { unreadableAfterMs: 100 }, 1_050, alive).free).toBe(false);
    expect(judgeLock(unreadable, me, { unreadableAfterMs: 100 }, 1_101, alive)).toMatchObject({
      free: true,
      why: "unreadable",
    });
  });
});
