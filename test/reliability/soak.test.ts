import { describe, expect, it } from "vitest";
import { DEFAULT_SOAK, runSoak } from "../../bench/soak/soak.js";
import { MIX } from "../../bench/soak/traffic.js";

// The soak of bench/soak (issue 14, "Load") for 30 s instead of 5 minutes: mailbox, group and
// task traffic at 50 envelopes a second against a bridge in its own process, with a Feishu
// 5xx burst, a 429 burst, a dropped gateway, a dropped long connection and a held inbox lock
// at random (seeded) times. Nothing may be lost or doubled at any destination, the bridge
// must not crash, and everything must arrive once the faults have cleared. No speed is
// asserted: this machine is shared and noisy; `npm run bench` reports the figures.

const SECONDS = 30;

describe("the soak (30 s of mixed traffic with faults)", () => {
  it("loses nothing, doubles nothing, does not crash, and delivers everything after the faults clear", async () => {
    const log: string[] = [];
    const report = await runSoak({
      ...DEFAULT_SOAK,
      seconds: SECONDS,
      drainTimeoutMs: 20_000,
      log: (line) => log.push(line),
    });
    const context = () =>
      JSON.stringify(
        { problems: report.tally.problems, faults: report.faults, log, bridge: report.bridge.stderrTail },
        null,
        1,
      );

    // Every kind was sent: one of each before the clock started, then the timed traffic.
    const kinds = Object.keys(MIX);
    expect(report.sent).toBe(SECONDS * DEFAULT_SOAK.ratePerS + kinds.length);
    for (const kind of kinds) expect(report.sentByKind[kind], kind).toBeGreaterThan(0);

    // Each kind of fault was injected and each outage was seen to end.
    expect(new Set(report.faults.map((f) => f.kind))).toEqual(
      new Set(["feishu-5xx", "feishu-429", "gateway-drop", "long-connection-drop", "inbox-lock"]),
    );
    for (const fault of report.faults) expect(fault.outageMs, `${fault.kind} ended`).not.toBeNull();

    // The faults reached the bridge (so the counts below mean something) …
    const { metrics } = report;
    const dropped = report.faults.find((f) => f.kind === "gateway-drop")!.detail;
    expect(metrics.gatewayReconnects[dropped], `${dropped} reconnected`).toBeGreaterThanOrEqual(1);
    expect(metrics.feishuReconnects).toBeGreaterThanOrEqual(1);
    expect(metrics.feishuCalls.retried! + metrics.feishuCalls.rate_limited!).toBeGreaterThan(0);
    expect(report.presses.pressed, "Cancel pressed on cards").toBeGreaterThan(0);

    // … and it gave nothing up, lost nothing and doubled nothing.
    expect(report.drained, `everything arrived after the faults cleared: ${context()}`).toBe(true);
    expect(report.tally.lost, context()).toBe(0);
    expect(report.tally.duplicated, context()).toBe(0);
    expect(metrics.envelopes.dead_letter).toBe(0);
    expect(metrics.envelopes.overflow).toBe(0);
    expect(metrics.deadLetters).toBe(0);
    expect(metrics.quarantinedLines).toBe(0);
    expect(metrics.intakeEvents.failed).toBe(0);
    expect(report.unreadableLines).toBe(0);

    // No crash: still running at the end, and a clean exit when asked to stop.
    expect(report.bridge.alive, context()).toBe(true);
    expect(report.bridge.exit).toEqual({ code: 0, signal: null });
  }, 90_000);
});
