import { describe, expect, it } from "vitest";
import { ClawbridgeError, ManualClock, silentLogger } from "../../../src/core/index.js";
import { DeliveryLoop, type LoopItem } from "../../../src/relay/delivery-loop.js";

/** A loop over an in-memory list; `fail` decides what each attempt throws. */
function loop(items: LoopItem[], fail: (item: LoopItem, attempt: number) => unknown) {
  const clock = new ManualClock(0);
  const attempts = new Map<string, number>();
  const done: string[] = [];
  const given: string[] = [];
  const pending = [...items];
  const remove = (id: string) =>
    pending.splice(
      pending.findIndex((i) => i.id === id),
      1,
    );
  const l = new DeliveryLoop<LoopItem>({
    name: "test",
    logger: silentLogger(),
    concurrency: 4,
    clock,
    available: () => true,
    pending: () => pending,
    work: async (item) => {
      const n = (attempts.get(item.id) ?? 0) + 1;
      attempts.set(item.id, n);
      const error = fail(item, n);
      if (error) throw error;
      done.push(item.id);
      remove(item.id);
    },
    giveUp: async (item) => {
      given.push(item.id);
      remove(item.id);
    },
  });
  return { clock, loop: l, attempts, done, given };
}

const offline = () => new ClawbridgeError("CB_GATEWAY_UNREACHABLE", "node offline");
const invalid = () => new ClawbridgeError("CB_FEISHU_REJECTED", "message rejected for good");

describe("DeliveryLoop", () => {
  it("retries a transient failure only when its backoff has passed on the clock", async () => {
    const t = loop([{ id: "a", lane: "x" }], (_item, n) => (n < 3 ? offline() : undefined));
    t.loop.wake();
    await t.clock.advanceAsync(0);
    expect(t.attempts.get("a")).toBe(1);
    await t.clock.advanceAsync(300); // the first backoff is 350–500 ms
    expect(t.attempts.get("a")).toBe(1);
    await t.clock.advanceAsync(200);
    expect(t.attempts.get("a")).toBe(2);
    await t.clock.advanceAsync(1_000);
    expect(t.done).toEqual(["a"]);
    await t.loop.stop();
  });

  it("gives up at once on a permanent failure, and the lane goes on", async () => {
    const t = loop(
      [
        { id: "poison", lane: "x" },
        { id: "next", lane: "x" },
      ],
      (item) => (item.id === "poison" ? invalid() : undefined),
    );
    t.loop.wake();
    await t.clock.advanceAsync(0);
    await t.clock.advanceAsync(0);
    expect(t.given).toEqual(["poison"]);
    expect(t.done).toEqual(["next"]);
    expect(t.attempts.get("poison")).toBe(1);
    await t.loop.stop();
  });

  it("never runs two items of one lane at once, nor a lane's second before its first", async () => {
    const order: string[] = [];
    const t = loop(
      [
        { id: "x1", lane: "x" },
        { id: "y1", lane: "y" },
        { id: "x2", lane: "x" },
      ],
      (item) => void order.push(item.id),
    );
    t.loop.wake();
    for (let i = 0; i < 4; i++) await t.clock.advanceAsync(0);
    expect(t.done.sort()).toEqual(["x1", "x2", "y1"]);
    expect(order.indexOf("x1")).toBeLessThan(order.indexOf("x2"));
    await t.loop.stop();
  });
});
