import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../src/core/index.js";
import {
  DeviceTokenStore,
  loadOrCreateIdentity,
  WsGatewayClient,
  type RunEvent,
} from "../../src/gateway/index.js";
import { waitFor } from "../helpers/wait.js";

/**
 * What a gateway must look like to our client, whoever serves it. The same suite runs against
 * the fake gateway (`npm test`) and the real openclaw (`test/conformance`, in CI), so the fake
 * cannot drift from the real thing unnoticed.
 *
 * Prompts follow the fake model's conventions: `REPLY:<text>` answers `<text>`; `SLOW` streams
 * for ~10 s. The fake gateway is scripted with the same conventions.
 */
export interface GatewayTarget {
  url: string;
  token: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** How many runs the target started whose prompt contains `marker`. */
  runsWith(marker: string): number;
  stop(): Promise<void>;
}

export function gatewayBehaviour(
  name: string,
  start: () => Promise<GatewayTarget>,
  options: { firstRunMs?: number } = {},
) {
  const runTimeout = options.firstRunMs ?? 30_000;
  describe(`gateway behaviour: ${name}`, () => {
    let target: GatewayTarget;
    const stateDirs: string[] = [];
    const clients: WsGatewayClient[] = [];

    async function client(opts: { token?: string; stateDir?: string; tokenSource?: string } = {}) {
      const stateDir = opts.stateDir ?? mkdtempSync(path.join(os.tmpdir(), "clawbridge-gw-state-"));
      stateDirs.push(stateDir);
      const created = new WsGatewayClient({
        node: "ai-pc",
        url: target.url,
        token: opts.token ?? target.token,
        tokenSource: opts.tokenSource ?? "AI_PC_TOKEN",
        identity: await loadOrCreateIdentity(stateDir),
        deviceTokens: new DeviceTokenStore(stateDir),
        backoff: { baseMs: 100, maxMs: 1_000 },
        connectWaitMs: 20_000,
      });
      clients.push(created);
      created.start();
      return { client: created, stateDir };
    }

    beforeAll(async () => {
      target = await start();
    });
    afterAll(async () => {
      for (const c of clients) await c.stop();
      await target?.stop();
      for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
    });

    it("handshakes with a persistent device identity (0600)", async () => {
      const { client: c, stateDir } = await client();
      await c.ready(20_000);
      const health = c.health();
      expect(health).toMatchObject({ state: "connected", protocol: 4 });
      expect(health.serverVersion).toBeTruthy();
      expect(statSync(path.join(stateDir, "identity", "device.json")).mode & 0o777).toBe(0o600);
      const first = (await loadOrCreateIdentity(stateDir)).deviceId;
      expect((await loadOrCreateIdentity(stateDir)).deviceId).toBe(first);
      // A loopback client with the shared token gets no device token from the real gateway:
      // storing one is covered by the fake gateway's pairing test.
    });

    it("runs an agent turn: accepted, streamed deltas, the final text", async () => {
      const { client: c } = await client();
      await c.ready(20_000);
      const marker = `m${Date.now().toString(36)}`;
      const run = c.runAgent({
        prompt: `REPLY:hello ${marker} from the model`,
        sessionKey: `agent:main:clawbridge:conf-${marker}`,
        idempotencyKey: `conf-run-${marker}`,
        timeoutMs: runTimeout * 2,
      });
      const events: RunEvent[] = [];
      run.onEvent((event) => events.push(event));
      const result = await run.result;
      expect(result).toMatchObject({
        status: "ok",
        text: `hello ${marker} from the model`,
        runId: `conf-run-${marker}`,
      });
      expect(events[0]).toEqual({ kind: "accepted", runId: `conf-run-${marker}` });
      const deltas = events.filter((e) => e.kind === "delta");
      expect(deltas.length).toBeGreaterThan(0);
      expect(deltas.map((d) => (d.kind === "delta" ? d.delta : "")).join("")).toBe(result.text);
      expect(target.runsWith(marker)).toBe(1);
    });

    it("never starts a second run for the same idempotencyKey", async () => {
      const a = (await client()).client;
      const b = (await client()).client;
      await Promise.all([a.ready(20_000), b.ready(20_000)]);
      const marker = `d${Date.now().toString(36)}`;
      const request = {
        prompt: `REPLY:once ${marker}`,
        sessionKey: `agent:main:clawbridge:dup-${marker}`,
        idempotencyKey: `conf-dup-${marker}`,
        timeoutMs: runTimeout * 2,
      };
      const first = a.runAgent(request);
      const second = b.runAgent(request);
      expect(a.runAgent(request)).toBe(first);
      const [r1, r2] = await Promise.all([first.result, second.result]);
      expect(r1.text).toBe(`once ${marker}`);
      expect(r2.text).toBe(`once ${marker}`);
      expect(target.runsWith(marker)).toBe(1);
    });

    it("re-attaches to another connection's run by its id (a restarted bridge): the final text, no second run", async () => {
      const runner = (await client()).client;
      const successor = (await client()).client;
      await Promise.all([runner.ready(20_000), successor.ready(20_000)]);
      const marker = `w${Date.now().toString(36)}`;
      const sessionKey = `agent:main:clawbridge:attach-${marker}`;
      const runId = `conf-attach-${marker}`;
      const started = runner.runAgent({
        prompt: `SLOW ${marker}`,
        sessionKey,
        idempotencyKey: runId,
        timeoutMs: runTimeout * 2,
      });
      let deltas = 0;
      started.onEvent((e) => e.kind === "delta" && deltas++);
      await waitFor(() => deltas > 0, { timeoutMs: runTimeout, what: "the first delta" });
      const attached = successor.attachRun({ runId, sessionKey, timeoutMs: runTimeout * 2 });
      const [first, second] = await Promise.all([started.result, attached.result]);
      expect(first.status).toBe("ok");
      expect(second).toMatchObject({ runId, status: "ok", text: first.text });
      expect(target.runsWith(marker)).toBe(1);
    });

    // Its deadline is ten minutes away: only finding out from the session ends it within the test's time.
    it("a run id the gateway does not know is reported lost, not waited on until its deadline", async () => {
      const { client: c } = await client();
      await c.ready(20_000);
      const marker = `l${Date.now().toString(36)}`;
      const lost = c.attachRun({
        runId: `conf-lost-${marker}`,
        sessionKey: `agent:main:clawbridge:lost-${marker}`,
        timeoutMs: 10 * 60_000,
      });
      const error: unknown = await lost.result.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isClawbridgeError(error, "CB_GATEWAY_RUN_FAILED")).toBe(true);
      expect(String((error as Error).message)).toContain("no longer knows");
    });

    it("aborts a run (chat.abort): the result says aborted", async () => {
      const { client: c } = await client();
      await c.ready(20_000);
      const marker = `a${Date.now().toString(36)}`;
      const run = c.runAgent({
        prompt: `SLOW ${marker}`,
        sessionKey: `agent:main:clawbridge:abort-${marker}`,
        idempotencyKey: `conf-abort-${marker}`,
        timeoutMs: runTimeout * 2,
      });
      let deltas = 0;
      run.onEvent((e) => e.kind === "delta" && deltas++);
      await waitFor(() => deltas > 0, { timeoutMs: runTimeout, what: "the first delta" });
      await run.abort();
      const result = await run.result;
      expect(result.status).toBe("aborted");
    });

    it("a second connection observes the first one's run, with the session key parsed", async () => {
      const runner = (await client()).client;
      const watcher = (await client()).client;
      await Promise.all([runner.ready(20_000), watcher.ready(20_000)]);
      const marker = `o${Date.now().toString(36)}`;
      const sessionKey = `agent:main:clawbridge:observe-${marker}`;
      const seen: { state: string; text: string; agentId?: string; channel?: string }[] = [];
      watcher.observe((e) => {
        if (e.sessionKey === sessionKey)
          seen.push({ state: e.state, text: e.text, agentId: e.session.agentId, channel: e.session.channel });
      });
      await runner.runAgent({
        prompt: `REPLY:seen by ${marker}`,
        sessionKey,
        idempotencyKey: `conf-obs-${marker}`,
        timeoutMs: runTimeout * 2,
      }).result;
      await waitFor(() => seen.some((e) => e.state === "final"), {
        timeoutMs: 10_000,
        what: "the final chat event on the watcher",
      });
      expect(seen.find((e) => e.state === "final")).toMatchObject({
        text: `seen by ${marker}`,
        agentId: "main",
        channel: "clawbridge",
      });
      expect(seen.some((e) => e.state === "delta" || e.state === "assistant")).toBe(true);
    });

    it("a wrong token gives a clear error naming the node and the variable", async () => {
      const { client: c } = await client({ token: "definitely-not-the-token", tokenSource: "AI_PC_TOKEN" });
      const error = await c.ready(20_000).catch((e: unknown) => e);
      expect(isClawbridgeError(error, "CB_GATEWAY_AUTH")).toBe(true);
      expect(String((error as Error).message)).toContain("node ai-pc");
      expect((error as { fix: string }).fix).toContain("AI_PC_TOKEN");
      expect(String((error as Error).message) + (error as { fix: string }).fix).not.toContain(
        "definitely-not-the-token",
      );
      expect(c.health().state).toBe("auth-failed");
    });

    it("reconnects by itself after the gateway is killed and started again", async () => {
      const { client: c } = await client();
      await c.ready(20_000);
      await target.kill();
      await waitFor(() => c.health().state !== "connected", {
        timeoutMs: 10_000,
        what: "the client to notice",
      });
      await target.restart();
      await c.ready(60_000);
      expect(c.health().state).toBe("connected");
      const health = await c.request<{ ok?: boolean }>("health", {});
      expect(health).toBeTruthy();
      const marker = `r${Date.now().toString(36)}`;
      const result = await c.runAgent({
        prompt: `REPLY:back ${marker}`,
        sessionKey: `agent:main:clawbridge:back-${marker}`,
        idempotencyKey: `conf-back-${marker}`,
        timeoutMs: runTimeout * 2,
      }).result;
      expect(result.text).toBe(`back ${marker}`);
    });
  });
}
