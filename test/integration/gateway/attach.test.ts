import { describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import type { RunEvent } from "../../../src/gateway/index.js";
import { fakeGateway, gatewayClient } from "../../helpers/gateway.js";
import { waitFor } from "../../helpers/wait.js";

const deltasOf = (events: RunEvent[]) => events.flatMap((e) => (e.kind === "delta" ? [e] : []));

/** The request frames one client sent, by method. */
function methodsFrom(fake: Awaited<ReturnType<typeof fakeGateway>>, connIds: Set<string>): string[] {
  return fake.received.filter((r) => connIds.has(r.connId)).map((r) => r.frame.method);
}

describe("attachRun: re-attaching to a run by its id after a restart", () => {
  it("a run started by a process that died: the next one gets its later deltas and its final text", async () => {
    const text = "a long answer, streamed in six pieces";
    const fake = await fakeGateway({ script: { kind: "text", text, chunks: 6, delayMs: 80 } });
    const a = await gatewayClient(fake.url);
    await a.client.ready();
    const sessionKey = "agent:main:clawbridge:attach";
    const started = a.client.runAgent({ prompt: "work", sessionKey, idempotencyKey: "attach-1" });
    const seenByA: RunEvent[] = [];
    started.onEvent((e) => seenByA.push(e));
    await waitFor(() => deltasOf(seenByA).length >= 2, { what: "two deltas on A" });
    const textOfA = deltasOf(seenByA).at(-1)!.text;
    // B's connection is up before A goes, as after a restart; its id tells its frames apart.
    const before = new Set(fake.clients().map((c) => c.connId));
    const b = await gatewayClient(fake.url);
    await b.client.ready();
    const connB = new Set(fake.clients().flatMap((c) => (before.has(c.connId) ? [] : [c.connId])));
    await a.client.stop(); // the process dies: nothing aborted

    const run = b.client.attachRun({ runId: "attach-1", sessionKey });
    expect(run.runId).toBe("attach-1");
    const events: RunEvent[] = [];
    run.onEvent((e) => events.push(e));
    const result = await run.result;

    expect(result).toEqual({ runId: "attach-1", status: "ok", text });
    const deltas = deltasOf(events);
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    // The first delta carries everything said so far; the rest add up to the final text.
    expect(deltas[0]!.text.startsWith(textOfA)).toBe(true);
    expect(deltas.map((d) => d.delta).join("")).toBe(text);
    expect(deltas.at(-1)!.text).toBe(text);
    expect(fake.runs().filter((r) => r.idempotencyKey === "attach-1")).toHaveLength(1);
    const sentByB = methodsFrom(fake, connB);
    expect(sentByB).toContain("agent.wait");
    expect(sentByB).not.toContain("agent");
  });

  it("a run the gateway never heard of: the run-lost error, promptly", async () => {
    const fake = await fakeGateway();
    const { client } = await gatewayClient(fake.url);
    const startedAt = Date.now();
    const error = await client
      .attachRun({ runId: "no-such-run", sessionKey: "agent:main:clawbridge:lost" })
      .result.catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_RUN_FAILED")).toBe(true);
    expect((error as Error).message).toBe(
      "node ai-pc: the gateway no longer knows run no-such-run (it restarted while the run was going)",
    );
    expect((error as { details: unknown }).details).toMatchObject({ node: "ai-pc", runId: "no-such-run" });
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(client.health().runningRuns).toBe(0);
  });

  it("a run that finished before the attach: its final result", async () => {
    const fake = await fakeGateway({ script: { kind: "text", text: "已完成 done", chunks: 2, delayMs: 5 } });
    const a = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:done";
    await a.client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "done-1" }).result;
    await a.client.stop();
    const b = await gatewayClient(fake.url);
    const result = await b.client.attachRun({ runId: "done-1", sessionKey }).result;
    expect(result).toEqual({ runId: "done-1", status: "ok", text: "已完成 done" });
  });

  it("a run that was aborted before the attach: aborted, with the text it had", async () => {
    const fake = await fakeGateway({
      script: { kind: "text", text: "one two three", chunks: 3, delayMs: 300 },
    });
    const a = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:was-aborted";
    const run = a.client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "ab-1" });
    await waitFor(() => fake.runs()[0]?.text);
    await run.abort();
    await fake.runFinished("ab-1");
    const b = await gatewayClient(fake.url);
    const result = await b.client.attachRun({ runId: "ab-1", sessionKey }).result;
    expect(result.status).toBe("aborted");
    expect(result.text).toBe(fake.runs()[0]!.text);
  });

  it("a run this client already tracks: the same handle", async () => {
    const fake = await fakeGateway({ script: { kind: "stall" } });
    const { client } = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:same";
    const run = client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "same-1" });
    expect(client.attachRun({ runId: "same-1", sessionKey })).toBe(run);
    const attached = client.attachRun({ runId: "other-1", sessionKey });
    expect(client.attachRun({ runId: "other-1", sessionKey })).toBe(attached);
    await waitFor(() => fake.runs().length === 1);
    await run.abort();
    expect((await run.result).status).toBe("aborted");
  });

  it("abort() on an attached run aborts it on the gateway", async () => {
    const fake = await fakeGateway({ script: { kind: "stall" } });
    // A stays connected: a stalled run ends when the socket that started it drops.
    const a = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:abort";
    const started = a.client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "abort-1" });
    await waitFor(() => fake.runs().length === 1);
    const b = await gatewayClient(fake.url);
    const run = b.client.attachRun({ runId: "abort-1", sessionKey });
    await waitFor(() => fake.received.some((r) => r.frame.method === "agent.wait"), { what: "agent.wait" });
    await run.abort();
    expect((await run.result).status).toBe("aborted");
    expect((await started.result).status).toBe("aborted");
    expect(fake.runs()[0]!.status).toBe("aborted");
  });

  it("abort() while the link is down: refused at once, and sent after the reconnect (the run does not go on at the node)", async () => {
    const fake = await fakeGateway({
      script: { kind: "text", text: "x".repeat(200), chunks: 100, delayMs: 100 },
    });
    const a = await gatewayClient(fake.url);
    const run = a.client.runAgent({
      prompt: "x",
      sessionKey: "agent:main:clawbridge:cancel",
      idempotencyKey: "cx-1",
    });
    await waitFor(() => fake.runs()[0]?.status === "running", { what: "the run going" });
    fake.stall(true);
    fake.dropConnections();
    await waitFor(() => a.client.health().state !== "connected", { what: "the link down" });
    await expect(run.abort()).rejects.toSatisfy((error) => isClawbridgeError(error));
    fake.stall(false);
    await waitFor(() => fake.received.some((r) => r.frame.method === "chat.abort"), {
      timeoutMs: 15_000,
      what: "chat.abort after the reconnect",
    });
    expect((await run.result).status).toBe("aborted");
    expect(fake.runs()[0]!.status).toBe("aborted");
  });

  it("the link drops while attached: resumed after the reconnect", async () => {
    const text = "slow and steady wins";
    const fake = await fakeGateway({ script: { kind: "text", text, chunks: 5, delayMs: 120 } });
    const a = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:drop";
    a.client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "drop-1" });
    await waitFor(() => fake.runs().length === 1);
    await a.client.stop();
    const b = await gatewayClient(fake.url, { backoff: { baseMs: 50, maxMs: 100, jitter: 0 } });
    const run = b.client.attachRun({ runId: "drop-1", sessionKey });
    const waits = () => fake.received.filter((r) => r.frame.method === "agent.wait").length;
    await waitFor(() => waits() === 1, { what: "the first agent.wait" });
    fake.dropConnections();
    expect(await run.result).toEqual({ runId: "drop-1", status: "ok", text });
    expect(waits()).toBeGreaterThanOrEqual(2);
    expect(fake.runs()).toHaveLength(1);
  });

  it("a run still going at the deadline: the timeout error, and it is aborted like a run started here", async () => {
    const fake = await fakeGateway({ script: { kind: "stall" } });
    const a = await gatewayClient(fake.url);
    const sessionKey = "agent:main:clawbridge:late";
    a.client.runAgent({ prompt: "x", sessionKey, idempotencyKey: "late-1" });
    await waitFor(() => fake.runs().length === 1);
    const b = await gatewayClient(fake.url);
    const error = await b.client
      .attachRun({ runId: "late-1", sessionKey, timeoutMs: 400 })
      .result.catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_TIMEOUT")).toBe(true);
    expect((error as Error).message).toContain("did not finish within 400 ms");
    await waitFor(() => fake.runs()[0]!.status === "aborted", { what: "the abort" });
  });

  it("no gateway to reach: unreachable after the connect wait", async () => {
    const fake = await fakeGateway();
    const url = fake.url;
    await fake.close();
    const { client } = await gatewayClient(url, { connectWaitMs: 300 });
    const error = await client
      .attachRun({ runId: "r", sessionKey: "agent:main:clawbridge:off" })
      .result.catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_UNREACHABLE")).toBe(true);
  });
});
