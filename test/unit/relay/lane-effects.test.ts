import { describe, expect, it } from "vitest";
import { ClawbridgeError, isRetryable } from "../../../src/core/index.js";
import { deferred } from "../../../src/feishu/outbound/deferred.js";
import { LaneEffects } from "../../../src/relay/lane-effects.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("LaneEffects", () => {
  it("lets a lane's next delivery wait only for the effects still being written, in order", async () => {
    const effects = new LaneEffects();
    const first = deferred<void>();
    const order: string[] = [];
    const started = effects.start("l", () => first.promise.then(() => void order.push("first")));
    let waited = false;
    const next = effects.before("l").then(() => (waited = true));
    // Another lane is not held up by this one.
    await effects.before("other");
    await tick();
    expect(waited).toBe(false);
    first.resolve();
    await next;
    await started;
    expect(order).toEqual(["first"]);
    // Written: nothing left to wait for.
    await expect(effects.before("l")).resolves.toBeUndefined();
  });

  it("reports effects that failed to the lane's next delivery once, then lets the lane go on", async () => {
    const effects = new LaneEffects();
    const first = deferred<void>();
    const started = effects.start("l", () => first.promise);
    started.catch(() => {});
    // Even an error that says "do not retry" is the earlier item's, not this one's.
    first.reject(new ClawbridgeError("CB_INTERNAL", "answer not written", { retryable: false }));
    const reported = await effects.before("l").then(
      () => undefined,
      (error: unknown) => error,
    );
    // Retryable (not a ClawbridgeError saying otherwise), naming the cause.
    expect(reported).toBeInstanceOf(Error);
    expect(isRetryable(reported)).toBe(true);
    expect((reported as Error).message).toContain("answer not written");
    await expect(effects.before("l")).resolves.toBeUndefined();
  });

  it("settles once every started effect is written or failed", async () => {
    const effects = new LaneEffects();
    const a = deferred<void>();
    const b = deferred<void>();
    effects.start("a", () => a.promise);
    effects.start("b", () => b.promise).catch(() => {});
    let settled = false;
    const all = effects.settled().then(() => (settled = true));
    a.resolve();
    await tick();
    expect(settled).toBe(false);
    b.reject(new Error("lost"));
    await all;
    expect(settled).toBe(true);
  });
});
