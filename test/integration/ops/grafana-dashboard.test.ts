import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";

const DASHBOARD = path.resolve(import.meta.dirname, "../../../docs/grafana/clawbridge-dashboard.json");

interface Panel {
  title: string;
  targets: { expr: string }[];
}

/** Every series name an expression reads (`foo_bucket` counts as the histogram `foo`). */
function seriesNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:clawbridge|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe("the Grafana dashboard in docs/", () => {
  it("reads only series a running bridge exposes, so it cannot drift from the code", async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] };
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    const exposed = new Set(
      (await (await fetch(`${bridge.opsUrl}/metrics`)).text())
        .split("\n")
        .filter((line) => line.startsWith("# TYPE "))
        .map((line) => line.split(" ")[2]!),
    );
    const used = dashboard.panels.flatMap((panel) => panel.targets.flatMap((t) => seriesNames(t.expr)));
    expect(used.length).toBeGreaterThan(20);
    const missing = used.filter(
      (name) => !exposed.has(name) && !exposed.has(name.replace(/_(bucket|count|sum)$/, "")),
    );
    expect(missing).toEqual([]);
    // Every panel says what it shows.
    for (const panel of dashboard.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
  });
});
