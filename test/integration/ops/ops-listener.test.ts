import { appendFileSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { seedLine } from "../../helpers/mailbox.js";
import { waitFor } from "../../helpers/wait.js";

async function scrape(opsUrl: string): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`${opsUrl}/metrics`);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

/** The value of one exposition line, e.g. `clawbridge_gateway_up{node="ai-pc"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the ops listener", () => {
  it("serves /metrics in Prometheus' format, with relay, gateway, Feishu, task and process series", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    expect(bridge.opsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(bridge.opsUrl).not.toBe(bridge.url);

    appendFileSync(
      path.join(world.root, "messages", "to-ai-pc.jsonl"),
      `${seedLine("office-mac", "ai-pc", "ops-metrics-probe-text 帮我跑一下 benchmark")}\n`,
    );
    await waitFor(
      async () =>
        ((await bridge.metrics.value("envelopes_total", { route: "gateway", node: "ai-pc" })) ?? 0) >= 1,
      { what: "a delivery to ai-pc counted" },
    );
    world.emu.say(world.emu.defaultChat, world.wang, "/nodes", { mentions: ["bridge"] });
    await waitFor(
      async () => ((await bridge.metrics.value("intake_events_total", { verdict: "handled" })) ?? 0) >= 1,
      { what: "the /nodes event counted as handled" },
    );

    const { status, type, text } = await scrape(bridge.opsUrl);
    expect(status).toBe(200);
    expect(type).toContain("text/plain");
    expect(sample(text, 'clawbridge_envelopes_total{route="gateway",node="ai-pc",outcome="delivered"}')).toBe(
      1,
    );
    expect(sample(text, 'clawbridge_delivery_seconds_count{route="gateway"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'clawbridge_gateway_up{node="ai-pc"}')).toBe(1);
    expect(sample(text, 'clawbridge_gateway_reconnects_total{node="office-mac"}')).toBe(0);
    expect(sample(text, 'clawbridge_outbox_depth{outbox="ai-pc"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'clawbridge_dead_letters{outbox="chat"}')).toBe(0);
    expect(sample(text, 'clawbridge_node_healthy{node="nas-agent"}')).toBeDefined();
    expect(sample(text, 'clawbridge_pairing_pending{node="ai-pc"}')).toBe(0);
    expect(sample(text, 'clawbridge_tasks{state="running"}')).toBe(0);
    expect(sample(text, "clawbridge_feishu_intake_up")).toBe(1);
    expect(
      sample(text, 'clawbridge_intake_events_total{mode="websocket",verdict="handled"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'clawbridge_feishu_calls_total{outcome="sent"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'clawbridge_health_problem{check="shared_folder"}')).toBe(0);
    expect(sample(text, "clawbridge_quarantined_lines_total")).toBe(0);
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    expect(text).toContain("process_resident_memory_bytes");
    // Labels come from the config, never from what was said: no message text, no message ids.
    expect(text).not.toContain("ops-metrics-probe-text");
    expect(text).not.toMatch(/om_[0-9a-z]/);

    const health = await fetch(`${bridge.opsUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const ready = await fetch(`${bridge.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { parts: object }).parts).toMatchObject({
      mailbox: { ready: true },
      state: { ready: true },
      feishu: { ready: true },
    });
    // The main listener does not serve the metrics.
    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(404);
  });

  it("a shared folder that vanishes: one log line, the metric, /readyz 503 naming it, a notice in the audit chat — and back", async () => {
    const world = await bridgeWorld();
    const { bridge, sink } = await startWorldBridge(world, { health: { intervalMs: 100, graceMs: 0 } });
    const away = `${world.root}-remounting`;
    renameSync(world.root, away);

    const down = await waitFor(
      () => world.emu.messages(world.auditChat).find((m) => m.text?.includes("cannot use the shared folder")),
      { what: "the notice that the shared folder is gone" },
    );
    expect(down.text).toContain(world.root);
    expect(down.text).toContain("ENOENT");
    expect(await bridge.metrics.value("health_problem", { check: "shared_folder" })).toBe(1);
    const ready = await fetch(`${bridge.opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { parts: Record<string, { ready: boolean; detail?: string }> };
    expect(body.parts.mailbox?.ready).toBe(false);
    expect(body.parts.mailbox?.detail).toContain("ENOENT");
    const failing = sink
      .records()
      .filter((r) => String(r.msg).startsWith("health check failing: shared_folder"));
    expect(failing).toHaveLength(1);

    renameSync(away, world.root);
    await waitFor(
      () => world.emu.messages(world.auditChat).some((m) => m.text?.includes("shared folder works again")),
      { what: "the notice that the shared folder is back" },
    );
    expect(await bridge.metrics.value("health_problem", { check: "shared_folder" })).toBe(0);
    expect(await bridge.metrics.value("health_transitions_total", { check: "shared_folder" })).toBe(2);
    expect((await fetch(`${bridge.opsUrl}/readyz`)).status).toBe(200);
    // One notice each way, however many rounds saw the problem.
    const notices = world.emu.messages(world.auditChat).filter((m) => m.text?.includes("shared folder"));
    expect(notices).toHaveLength(2);
  });
});
