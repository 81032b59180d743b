import { appendFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readDeadLetters } from "../../../src/relay/index.js";
import { RUN_ATTEMPTS } from "../../../src/relay/effects.js";
import type { FakeGateway } from "../../../src/sim/fake-gateway.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const POISON = "POISON: this one always makes the agent fail";

function seedLines(from: string, to: string, contents: string[]): string {
  return contents
    .map((content) =>
      JSON.stringify({ from, to, timestamp: "2026-11-25T18:40:00+08:00", type: "message", content }),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** Agent requests per idempotency key, as the gateway received them (retries included). */
function agentRequests(gateway: FakeGateway): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { frame } of gateway.received) {
    const request = frame as { method?: string; params?: { idempotencyKey?: string } };
    if (request.method !== "agent" || !request.params?.idempotencyKey) continue;
    counts.set(request.params.idempotencyKey, (counts.get(request.params.idempotencyKey) ?? 0) + 1);
  }
  return counts;
}

/** ai-pc's agent fails on the poisoned message and answers everything else at once. */
function poisonAiPc(world: BridgeWorld): void {
  world.gateways["ai-pc"].setScript((ctx) =>
    ctx.message.includes("POISON")
      ? { kind: "fail", message: "the model cannot read this" }
      : { kind: "text", text: "ok", chunks: 1, delayMs: 0 },
  );
  world.gateways["office-mac"].setScript({ kind: "text", text: "thanks", chunks: 1, delayMs: 0 });
}

describe("dead letters: a delivery that can never succeed does not block its lane", () => {
  it("a poisoned envelope at the head of a lane does not hold back the 1,000 behind it; after a restart it is still listed and nothing is delivered twice", async () => {
    // No audit chat: the thousand audit lines would wait on Feishu's 5 posts a second. And a
    // budget that lets a thousand forwards of one pair through (the loop guard's default is 20).
    const world = await bridgeWorld({
      relay: { auditChat: undefined, budget: { perPairPerMinute: 10_000, cooldownSeconds: 60 } },
    });
    poisonAiPc(world);
    const first = await startWorldBridge(world);
    const inbox = path.join(world.root, "messages", "to-ai-pc.jsonl");
    const good = Array.from({ length: 1_000 }, (_, i) => `message ${i}`);
    // One lane: every line comes from office-mac, so all go into one session, in order.
    appendFileSync(inbox, seedLines("office-mac", "ai-pc", [POISON, ...good]));

    const gateway = world.gateways["ai-pc"];
    await waitFor(() => gateway.runs().filter((r) => r.status === "ok").length >= 1_000, {
      timeoutMs: 120_000,
      what: "the 1,000 behind the poisoned one delivered",
    });
    const letters = await waitFor(async () => {
      const list = await readDeadLetters(world.stateDir);
      return list.length > 0 ? list : undefined;
    });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ target: "ai-pc", failures: RUN_ATTEMPTS });
    expect(letters[0]!.reason.origin).toBe("gateway");
    expect(letters[0]!.reason.message.en).toMatch(/run .* failed/);
    expect(letters[0]!.reason.message["zh-CN"]).toBeTruthy();
    const poisonKey = letters[0]!.id;
    const firstRequests = agentRequests(gateway);
    // Each try after a failed run asks under a key of its own (the gateway remembers failures by key).
    const poisonTries = [...firstRequests].filter(([key]) => key.startsWith(poisonKey));
    expect(poisonTries.map(([key, count]) => [key, count])).toEqual([
      [poisonKey, 1],
      [`${poisonKey}#2`, 1],
      [`${poisonKey}#3`, 1],
    ]);
    // Each good one asked for exactly once, in the lane's order.
    const goodRuns = gateway.runs().filter((r) => r.status === "ok");
    expect(goodRuns.map((r) => r.message.split("\n").at(-1))).toEqual(good);
    for (const run of goodRuns) expect(firstRequests.get(run.idempotencyKey)).toBe(1);
    expect(first.bridge.relay.deadLetterList().map((l) => l.id)).toEqual([poisonKey]);
    expect(first.sink.text()).toContain("moved to the dead letters");
    await first.bridge.stop(5_000);

    // After a restart: still listed, not tried again, nothing delivered twice.
    const second = await startWorldBridge(world);
    expect(second.bridge.relay.deadLetterList().map((l) => l.id)).toEqual([poisonKey]);
    await sleep(1_500);
    expect(agentRequests(gateway)).toEqual(firstRequests);
    expect(await readDeadLetters(world.stateDir)).toHaveLength(1);
  }, 180_000);

  it("says it once in the audit chat, and `state retry` puts it back: delivered once the node agrees", async () => {
    const world = await bridgeWorld();
    poisonAiPc(world);
    const { bridge } = await startWorldBridge(world);
    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      seedLines("office-mac", "ai-pc", [POISON, "after the poison"]),
    );
    const notice = await waitFor(
      () => world.emu.messages(world.auditChat).find((m) => m.text?.includes("dead letter")),
      { what: "the dead-letter notice in the audit chat", timeoutMs: 20_000 },
    );
    const [letter] = await readDeadLetters(world.stateDir);
    expect(notice.text).toContain(`clawbridge state retry ${letter!.id}`);
    expect(notice.text).toContain("ai-pc");
    await waitFor(() => world.gateways["ai-pc"].runs().some((r) => r.message.includes("after the poison")), {
      what: "the next one in the lane",
    });

    // The agent is fixed; a person asks for the retry (what `clawbridge state retry` does).
    world.gateways["ai-pc"].setScript({ kind: "text", text: "read it now", chunks: 1, delayMs: 0 });
    const { requestRetry } = await import("../../../src/relay/index.js");
    await requestRetry(world.stateDir, { target: "ai-pc", id: letter!.id, requestedAt: Date.now() });
    await waitFor(async () => (await readDeadLetters(world.stateDir)).length === 0, {
      what: "the dead letter taken back",
    });
    expect(bridge.relay.deadLetterList()).toEqual([]);
    // Run again under a key of its own: the gateway remembers the failed run under the old one.
    const again = await waitFor(() =>
      world.gateways["ai-pc"]
        .runs()
        .find((r) => r.idempotencyKey === `${letter!.id}#r1` && r.status === "ok"),
    );
    expect(again.message).toContain("POISON");
    // Said once, whatever happened after.
    await sleep(500);
    expect(world.emu.messages(world.auditChat).filter((m) => m.text?.includes("dead letter"))).toHaveLength(
      1,
    );
  }, 60_000);
});
