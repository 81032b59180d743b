import { describe, expect, it } from "vitest";
import { literalText, ManualClock, silentLogger } from "../../../src/core/index.js";
import { HealthMonitor, Metrics, RECOVERY_PROBES, type HealthCheck } from "../../../src/ops/index.js";

function monitorWith(probe: HealthCheck["probe"], graceMs = 0) {
  const clock = new ManualClock();
  const metrics = new Metrics({ nodes: [], processMetrics: false });
  const said: string[] = [];
  const check: HealthCheck = {
    name: "shared_folder",
    graceMs,
    probe,
    down: (reason) => literalText(`down: ${reason}`),
    back: (duration) => literalText(`back after ${duration}`),
  };
  const monitor = new HealthMonitor({
    checks: [check],
    metrics,
    logger: silentLogger(),
    locale: "en",
    clock,
    intervalMs: 1_000,
    probeTimeoutMs: 300,
    notices: { chats: ["oc_audit"], send: async (_chat, text) => said.push(text) },
  });
  return { clock, metrics, said, monitor };
}

describe("the health monitor", () => {
  it("a probe that never answers fails after its timeout, and no second probe is started while it hangs", async () => {
    let calls = 0;
    const { clock, said, monitor } = monitorWith(() => {
      calls += 1;
      return new Promise<string | undefined>(() => undefined);
    });
    const first = monitor.runOnce();
    await clock.advanceAsync(300);
    await first;
    expect(monitor.verdicts().shared_folder).toEqual({ ok: false, reason: "no answer within 300 ms" });
    for (let round = 0; round < 3; round++) {
      const next = monitor.runOnce();
      await clock.advanceAsync(300);
      await next;
    }
    expect(calls).toBe(1);
    expect(said).toEqual(["down: no answer within 300 ms"]);
  });

  it("announces a problem once past its grace, and its end only after enough good probes in a row", async () => {
    let failing: string | undefined = "EROFS: read-only file system";
    const { clock, metrics, said, monitor } = monitorWith(() => failing, 2_000);
    await monitor.runOnce();
    expect(said).toEqual([]); // within the grace
    await clock.advanceAsync(2_000);
    await monitor.runOnce();
    await monitor.runOnce();
    expect(said).toEqual(["down: EROFS: read-only file system"]);
    expect(await metrics.value("health_problem", { check: "shared_folder" })).toBe(1);
    failing = undefined;
    for (let i = 1; i < RECOVERY_PROBES; i++) await monitor.runOnce();
    failing = "ENOSPC: no space left on device"; // a nearly full disk passes now and then
    await monitor.runOnce();
    failing = undefined;
    for (let i = 0; i < RECOVERY_PROBES; i++) await monitor.runOnce();
    expect(said).toHaveLength(2);
    expect(said[1]).toMatch(/^back after \d+ s$/);
    expect(await metrics.value("health_problem", { check: "shared_folder" })).toBe(0);
    expect(await metrics.value("health_transitions_total", { check: "shared_folder" })).toBe(2);
  });
});
