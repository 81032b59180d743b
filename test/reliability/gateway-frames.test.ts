import { appendFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunningBridge } from "../../src/app.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { countBy, inboxIds, logged, notices, seedLine } from "./support/fault-kit.js";

// Bad frames from a gateway (issue 14, deliverable 3): malformed JSON, binary junk, frames of
// unknown type, known frames with fields of the wrong type (some naming a request or run that
// is live), frames near and over the client's size limit — handcrafted, then ≥ 500 generated
// with fast-check, sent while a real run streams. The run must still complete exactly once,
// the bridge must not crash, and every frame that is not JSON must be in the log.

/** The run streams for about a second, so frames land between its events. */
const SLOW = { kind: "text" as const, text: "一\n二\n三\n四\n五\n六\n七\n八", chunks: 8, delayMs: 120 };
/** The client's `maxPayload` (ws closes the socket with 1009 above it). */
const CLIENT_MAX_PAYLOAD = 32 * 1024 * 1024;

const agentRuns = (world: BridgeWorld) => world.gateways["ai-pc"].runs().filter((r) => r.origin === "agent");

async function metric(bridge: RunningBridge, name: string, labels?: Record<string, string>): Promise<number> {
  return (await bridge.metrics.value(name, labels)) ?? 0;
}

/** office-mac's agent writes a line to ai-pc's inbox; resolves with its id once its run streams. */
async function runStreaming(world: BridgeWorld, text: string): Promise<string> {
  const { line, id } = seedLine("office-mac", "ai-pc", text);
  appendFileSync(path.join(world.root, "messages", "to-ai-pc.jsonl"), line);
  await waitFor(
    () => agentRuns(world).some((r) => r.idempotencyKey === id && r.status === "running" && r.text),
    {
      what: `the run of ${id} streaming`,
    },
  );
  return id;
}

/** One run at ai-pc for `id`, its answer once into office-mac's session and once into its inbox. */
async function deliveredOnce(world: BridgeWorld, id: string): Promise<void> {
  const answerId = `re-${id}`;
  await waitFor(() => inboxIds(world.root, "office-mac").ids.includes(answerId), {
    what: `the answer to ${id} in to-office-mac.jsonl`,
    timeoutMs: 20_000,
  });
  const runs = agentRuns(world).filter((r) => r.idempotencyKey.startsWith(id));
  expect(runs).toHaveLength(1);
  expect(runs[0]!.status).toBe("ok");
  expect(countBy(inboxIds(world.root, "office-mac").ids).get(answerId)).toBe(1);
  const answers = world.gateways["office-mac"].runs().filter((r) => r.idempotencyKey.startsWith(answerId));
  expect(answers).toHaveLength(1);
  // The answer is the whole of what ai-pc's agent said: no frame slipped text into it.
  expect(answers[0]!.message).toContain(runs[0]!.text);
}

/** What the client reads a frame as: text as UTF-8, whatever was sent. */
function received(data: string | Buffer): string {
  return (Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8")).toString("utf8");
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const notJsonLines = (bridge: { sink: { lines: string[] } }) =>
  logged(bridge.sink.lines, /^ignoring a frame that is not JSON/).length;

describe("bad frames from a gateway", () => {
  it("handcrafted: malformed, unknown, wrongly typed (some naming the live run), deep and large frames are ignored with a log line; the run finishes once, the link stays up", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: SLOW } } });
    const started = await startWorldBridge(world);
    const { bridge, sink } = started;
    const gateway = world.gateways["ai-pc"];
    const id = await runStreaming(world, "frames-手工 帮我跑一下 benchmark");
    const live = agentRuns(world).find((r) => r.idempotencyKey === id)!;
    const pendingIds = Array.from({ length: 8 }, (_, i) => `cb-${i + 1}`);
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

    const notJson: (string | Buffer)[] = [
      '{"type":"res","id":"cb-1","ok":tr',
      "not json at all",
      "",
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      `${JSON.stringify({ type: "event", event: "chat" })}}`,
    ];
    const oddShapes: string[] = [
      "null",
      "[]",
      '"a string"',
      "12",
      deep(100_000),
      JSON.stringify({ type: "resp", id: "cb-1", ok: true }),
      JSON.stringify({ type: "req", id: "x-1", method: "agent", params: {} }),
      JSON.stringify({ type: "event" }),
      JSON.stringify({ type: "event", event: 7 }),
      JSON.stringify({ type: "res", id: 42, ok: true }),
      // Live request ids, with what a response must have in the wrong type:
      ...pendingIds.map((rid) =>
        JSON.stringify({ type: "res", id: rid, ok: "yes", payload: { status: "ok" } }),
      ),
      ...pendingIds.map((rid) => JSON.stringify({ type: "res", id: rid, ok: false, error: { code: 500 } })),
      JSON.stringify({
        type: "event",
        event: "chat",
        payload: { sessionKey: live.sessionKey, runId: live.runId, state: "final" },
        seq: "1",
      }),
    ];
    // Known events whose payload cannot be read (some naming the live run).
    const badPayloads: string[] = [
      JSON.stringify({ type: "event", event: "agent", payload: { runId: live.runId, stream: 7 } }),
      JSON.stringify({
        type: "event",
        event: "agent",
        payload: { runId: 7, stream: "assistant", data: { text: "伪造" } },
      }),
      JSON.stringify({
        type: "event",
        event: "chat",
        payload: { sessionKey: live.sessionKey, runId: 7, state: "final" },
      }),
      JSON.stringify({ type: "event", event: "chat", payload: { sessionKey: 5, state: "final" } }),
      JSON.stringify({ type: "event", event: "connect.challenge", payload: { nonce: 5, ts: "now" } }),
    ];
    // A challenge on a link that is up: a second handshake would be refused and cut the link.
    const lateChallenge = JSON.stringify({
      type: "event",
      event: "connect.challenge",
      payload: { nonce: "late-nonce", ts: Date.now() },
    });
    // Well-formed frames nobody needs: a tick with junk (it still proves the link alive), an
    // event nobody listens for, a delta of a group session with a 50 000-deep message, 2 MiB.
    const harmless: string[] = [
      JSON.stringify({ type: "event", event: "tick", payload: "tock" }),
      JSON.stringify({ type: "event", event: "no.such.event", payload: { any: "thing" } }),
      `{"type":"event","event":"chat","payload":{"sessionKey":"agent:main:feishu:group:oc_x","state":"delta","message":${deepObject(50_000)}}}`,
      // Large but within the limit (2 MiB).
      JSON.stringify({ type: "event", event: "blob", payload: "x".repeat(2 * 1024 * 1024) }),
    ];
    const before = notJsonLines(started);
    const connects = gateway.received.filter((r) => r.frame.method === "connect").length;
    for (const data of [...notJson, ...oddShapes, ...badPayloads, lateChallenge, ...harmless]) {
      expect(gateway.sendRaw(data)).toBe(1);
      await sleep(2);
    }

    await deliveredOnce(world, id);
    await waitFor(() => notJsonLines(started) - before === notJson.length, {
      what: () => `${notJson.length} frames logged as not JSON (got ${notJsonLines(started) - before})`,
    });
    const unknownShape = logged(sink.lines, /^ignoring a frame of unknown shape/, 20);
    const unreadable = logged(sink.lines, /^ignoring an event whose payload cannot be read/, 20);
    expect(unknownShape).toHaveLength(oddShapes.length);
    expect(unreadable).toHaveLength(badPayloads.length);
    const challenges = logged(sink.lines, /^ignoring a second connect challenge on this connection/, 20);
    expect(challenges).toHaveLength(1);
    expect(gateway.received.filter((r) => r.frame.method === "connect")).toHaveLength(connects);
    // The first one on the connection is a warning; the rest would only fill the log.
    expect([...unknownShape, ...unreadable, ...challenges].filter((r) => r.level === 40)).toHaveLength(1);
    // The link never dropped: the garbage was read and set aside, the run's own events went on.
    expect(logged(sink.lines, /^gateway connection lost/)).toEqual([]);
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);
    expect(await metric(bridge, "gateway_reconnects_total", { node: "ai-pc" })).toBe(0);
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "delivered" }),
    ).toBe(1);
    // Every frame that could not be read is counted, whatever its log level.
    expect(await metric(bridge, "gateway_bad_frames_total", { node: "ai-pc" })).toBe(
      notJson.length + oddShapes.length + badPayloads.length,
    );
    expect(notices(world.emu, world.auditChat, "⚠")).toEqual([]);
    expect((await fetch(`${bridge.opsUrl}/healthz`)).status).toBe(200);
  });

  it("a frame over the client's size limit: the client closes the socket and says why, the link comes back, the run in flight finishes once", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: SLOW } } });
    const { bridge, sink } = await startWorldBridge(world);
    const gateway = world.gateways["ai-pc"];
    const id = await runStreaming(world, "frames-超大 帮我跑一下 benchmark");

    const oversize = JSON.stringify({
      type: "event",
      event: "blob",
      payload: "x".repeat(CLIENT_MAX_PAYLOAD + 1024),
    });
    expect(gateway.sendRaw(oversize)).toBe(1);
    await deliveredOnce(world, id);

    const lost = logged(sink.lines, /^gateway connection lost; reconnecting/);
    expect(lost).toHaveLength(1);
    // Why, in the same line: the socket's own error.
    expect(lost[0]!.err?.message).toContain("Max payload size exceeded");
    // The run was accepted before the drop: awaited after it, never sent again.
    expect(gateway.received.filter((r) => r.frame.method === "agent")).toHaveLength(1);
    expect(gateway.received.some((r) => r.frame.method === "agent.wait")).toBe(true);
    expect(await metric(bridge, "gateway_reconnects_total", { node: "ai-pc" })).toBe(1);
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);
  });

  it("≥ 500 generated bad frames (fast-check) sent while runs stream: every run completes once, every frame that is not JSON is logged, the link stays up", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { script: SLOW } } });
    const started = await startWorldBridge(world);
    const { bridge, sink } = started;
    const gateway = world.gateways["ai-pc"];
    let round = 0;
    let framesSent = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(badFrame, { minLength: 180, maxLength: 220 }), async (frames) => {
        round += 1;
        const id = await runStreaming(world, `frames-生成-${round} 帮我跑一下 benchmark`);
        const before = notJsonLines(started);
        const expectedNotJson = frames.filter((f) => !parses(received(f))).length;
        // Spread over the run: a few frames between each of its events.
        for (const [i, frame] of frames.entries()) {
          expect(gateway.sendRaw(frame)).toBe(1);
          if (i % 10 === 9) await sleep(8);
        }
        framesSent += frames.length;
        await deliveredOnce(world, id);
        await waitFor(() => notJsonLines(started) - before === expectedNotJson, {
          what: () => `${expectedNotJson} frames logged as not JSON (got ${notJsonLines(started) - before})`,
        });
      }),
      // Each case is a whole run through the bridge: a few cases, no shrinking marathon.
      { numRuns: 3, endOnFailure: true },
    );

    expect(framesSent).toBeGreaterThanOrEqual(500);
    expect(logged(sink.lines, /^gateway connection lost/)).toEqual([]);
    expect(await metric(bridge, "gateway_up", { node: "ai-pc" })).toBe(1);
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "delivered" }),
    ).toBe(3);
    expect(
      await metric(bridge, "envelopes_total", { route: "gateway", node: "ai-pc", outcome: "dead_letter" }),
    ).toBe(0);
    expect(bridge.relay.deadLetterList()).toEqual([]);
  });
});

// ── generated bad frames ─────────────────────────────────────────────────────

/** Ids our client gives its requests: a wrong-typed answer must not settle a live one. */
const liveRequestId = fc.integer({ min: 1, max: 60 }).map((n) => `cb-${n}`);
const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const notABoolean = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null));
/** Never a valid gateway error (its `code` must be a string). */
const notAnError = fc.oneof(
  fc.constant(undefined),
  fc.integer(),
  fc.record({ code: fc.integer(), message: fc.string() }),
);
const json = (value: unknown) => JSON.stringify(value);

/** Text that is not JSON, as a broken or hostile gateway might send. */
const junkText = fc.string({ unit: "binary", maxLength: 120 }).filter((s) => !parses(received(s)));
/** A frame cut off: a proper prefix of an object's JSON never parses. */
const truncated = fc
  .record({
    type: fc.constantFrom("res", "event"),
    id: fc.string({ maxLength: 8 }),
    payload: fc.jsonValue({ maxDepth: 2 }),
  })
  .map(json)
  .chain((text) => fc.integer({ min: 1, max: text.length - 1 }).map((n) => text.slice(0, n)));
const binaryJunk = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes));
/** Valid JSON that is not an object with a known type. */
const wrongTopLevel = fc
  .oneof(
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string(),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  )
  .map(json);
const unknownType = fc
  .record({
    type: fc.oneof(
      fc.string({ maxLength: 10 }).filter((t) => t !== "res" && t !== "event"),
      notAString,
    ),
    id: fc.oneof(fc.string({ maxLength: 8 }), liveRequestId),
    ok: fc.boolean(),
    payload: fc.jsonValue({ maxDepth: 2 }),
  })
  .map(json);
const wrongResponse = fc
  .oneof(
    fc.record({
      type: fc.constant("res"),
      id: notAString,
      ok: fc.boolean(),
      payload: fc.jsonValue({ maxDepth: 2 }),
    }),
    fc.record({
      type: fc.constant("res"),
      id: liveRequestId,
      ok: notABoolean,
      payload: fc.jsonValue({ maxDepth: 2 }),
    }),
    fc.record({ type: fc.constant("res"), id: liveRequestId, ok: fc.constant(false), error: notAnError }),
  )
  .map(json);
const wrongEvent = fc
  .oneof(
    fc.record({
      type: fc.constant("event"),
      event: fc.oneof(fc.constant(""), notAString),
      payload: fc.jsonValue({ maxDepth: 2 }),
    }),
    // Known events with a payload of anything (a valid chat/agent payload needs keys a random object does not have).
    fc.record({
      type: fc.constant("event"),
      event: fc.constantFrom("chat", "agent", "tick", "health", "connect.challenge"),
      payload: fc.jsonValue({ maxDepth: 3 }),
    }),
    // Right shapes, wrong field types.
    fc.record({
      type: fc.constant("event"),
      event: fc.constant("chat"),
      payload: fc.record({
        sessionKey: notAString,
        runId: fc.string({ maxLength: 8 }),
        state: fc.constantFrom("delta", "final", "error"),
      }),
    }),
    fc.record({
      type: fc.constant("event"),
      event: fc.constant("agent"),
      payload: fc.record({
        runId: notAString,
        stream: fc.constantFrom("assistant", "lifecycle"),
        data: fc.jsonValue({ maxDepth: 2 }),
      }),
    }),
    fc.record({
      type: fc.constant("event"),
      event: fc.constantFrom("chat", "agent", "tick"),
      seq: fc.oneof(fc.string(), fc.boolean()),
    }),
    fc.record({
      type: fc.constant("event"),
      event: fc.constant("connect.challenge"),
      payload: fc.record({ nonce: notAString, ts: fc.oneof(fc.string(), fc.double({ max: -1 })) }),
    }),
    // A well-formed challenge on a link that is up: one handshake per socket.
    fc.record({
      type: fc.constant("event"),
      event: fc.constant("connect.challenge"),
      payload: fc.record({ nonce: fc.string({ minLength: 1, maxLength: 12 }), ts: fc.nat() }),
    }),
    // Events nobody listens for.
    fc.record({
      type: fc.constant("event"),
      event: fc.string({ minLength: 1, maxLength: 12 }).map((e) => `x.${e}`),
      payload: fc.jsonValue({ maxDepth: 2 }),
    }),
  )
  .map(json);

/** One bad frame: text (sent as a text frame) or a Buffer (sent as a binary frame). */
const badFrame: fc.Arbitrary<string | Buffer> = fc.oneof(
  junkText,
  truncated,
  binaryJunk,
  wrongTopLevel,
  unknownType,
  wrongResponse,
  wrongEvent,
);
