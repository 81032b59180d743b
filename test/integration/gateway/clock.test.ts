import { describe, expect, it } from "vitest";
import { isClawbridgeError, ManualClock } from "../../../src/core/index.js";
import type { LinkState, WsGatewayClient } from "../../../src/gateway/index.js";
import { fakeGateway, gatewayClient } from "../../helpers/gateway.js";
import { waitFor } from "../../helpers/wait.js";

/**
 * The client's timers run on an injected clock: here a `ManualClock`, so each delay is shown
 * to end exactly when the clock passes it — no real waiting, no flaky margins. The sockets
 * and the fake gateway stay real.
 */

function states(client: WsGatewayClient): LinkState[] {
  const seen: LinkState[] = [];
  client.onState((health) => seen.push(health.state));
  return seen;
}

const count = (seen: LinkState[], state: LinkState) => seen.filter((s) => s === state).length;

/** `stop()` waits up to a second (on the clock) for a clean close. */
async function stop(client: WsGatewayClient, clock: ManualClock): Promise<void> {
  const stopping = client.stop();
  await clock.advanceAsync(1_000);
  await stopping;
}

describe("gateway client on a manual clock", () => {
  it("reconnects only when the clock passes each backoff delay (1 s, 2 s, 4 s), and ready() gives up at its own deadline", async () => {
    const fake = await fakeGateway();
    const url = fake.url;
    await fake.close(); // nobody listens there any more: every attempt is refused
    const clock = new ManualClock();
    const { client } = await gatewayClient(url, {
      clock,
      backoff: { baseMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0 },
    });
    const seen = states(client);
    const waiting = client.ready(10_000).catch((e: unknown) => e);
    for (const delayMs of [1_000, 2_000, 4_000]) {
      await waitFor(() => client.health().state === "backoff", { what: "the refused attempt" });
      const attempts = count(seen, "connecting");
      await clock.advanceAsync(delayMs - 1);
      expect(count(seen, "connecting"), `${delayMs} ms not yet passed`).toBe(attempts);
      await clock.advanceAsync(1);
      expect(count(seen, "connecting"), `${delayMs} ms passed`).toBe(attempts + 1);
    }
    // 1 + 2 + 4 s so far: the ready() deadline of 10 s has not passed …
    await waitFor(() => client.health().state === "backoff");
    expect(await Promise.race([waiting, Promise.resolve("pending")])).toBe("pending");
    await clock.advanceAsync(3_000);
    // … now it has, and the error says why the attempts failed.
    const error = await waiting;
    expect(isClawbridgeError(error, "CB_GATEWAY_UNREACHABLE")).toBe(true);
    expect((error as Error).message).toMatch(
      /^node ai-pc: no connection to ws:\S+ after 10000 ms \(.*ECONNREFUSED/,
    );
    await stop(client, clock);
  });

  it("a silent gateway is dropped only once the clock passes tickInterval × grace", async () => {
    const fake = await fakeGateway({ tickIntervalMs: 1_000 });
    const clock = new ManualClock();
    const { client } = await gatewayClient(fake.url, { clock, tickGraceFactor: 2.5 });
    await client.ready();
    fake.stall(true);
    // The watchdog looks every 500 ms; 2 500 ms of silence is still within the grace.
    await clock.advanceAsync(2_500);
    expect(client.health()).toMatchObject({ state: "connected", lastError: undefined });
    await clock.advanceAsync(500);
    expect(client.health().lastError?.message).toBe(
      "node ai-pc: the gateway went silent (no tick for 2500 ms)",
    );
    await waitFor(() => client.health().state !== "connected", { what: "the socket to be cut" });
    fake.stall(false);
    await stop(client, clock);
  });

  it("a request times out exactly at its timeout on the clock", async () => {
    const fake = await fakeGateway();
    const clock = new ManualClock();
    const { client } = await gatewayClient(fake.url, { clock, requestTimeoutMs: 300 });
    await client.ready();
    fake.stall(true);
    let outcome: unknown = "pending";
    void client.request("health").then(
      (value) => (outcome = value),
      (error: unknown) => (outcome = error),
    );
    await waitFor(() => fake.received.some((r) => r.frame.method === "health"), { what: "the request" });
    await clock.advanceAsync(299);
    expect(outcome).toBe("pending");
    await clock.advanceAsync(1);
    expect(isClawbridgeError(outcome, "CB_GATEWAY_TIMEOUT")).toBe(true);
    expect((outcome as Error).message).toBe("node ai-pc: health got no answer in 300 ms");
    fake.stall(false);
    await stop(client, clock);
  });

  it.each([
    [5_000, 5_000],
    // Pending requests expire after a few minutes: never wait longer than 30 s between tries.
    [60_000, 30_000],
  ])(
    "while pairing is pending it asks again every %i ms → %i ms on the clock",
    async (pairingRetryMs, everyMs) => {
      const fake = await fakeGateway({ requirePairing: true });
      let connections = 0;
      fake.on("connection", () => connections++);
      const clock = new ManualClock();
      const { client } = await gatewayClient(fake.url, { clock, pairingRetryMs });
      for (let round = 1; round <= 2; round++) {
        await waitFor(() => client.health().state === "pairing" && connections === round, {
          what: `pairing refusal ${round}`,
        });
        await clock.advanceAsync(everyMs - 1);
        expect(connections).toBe(round);
        expect(client.health().state).toBe("pairing");
        await clock.advanceAsync(1);
        await waitFor(() => connections === round + 1, { what: `attempt ${round + 1}` });
      }
      // The same device keeps asking: the same request, still pending.
      expect(fake.pendingPairings()).toHaveLength(1);
      await stop(client, clock);
    },
  );
});
