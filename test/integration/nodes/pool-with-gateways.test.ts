import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeSchema } from "../../../src/config/index.js";
import { FsMailboxStore } from "../../../src/mailbox/index.js";
import { NodePool } from "../../../src/nodes/index.js";
import { fakeGateway, gatewayClient } from "../../helpers/gateway.js";
import { sharedFixture } from "../../helpers/mailbox.js";
import { waitFor } from "../../helpers/wait.js";

describe("node pool over real gateway clients and status files", () => {
  it("online, pairing (with the command) and mailbox-live nodes; selection follows health; offline when a gateway goes", async () => {
    const gpu = await fakeGateway();
    const remote = await fakeGateway({ requirePairing: true });
    const fx = sharedFixture();
    const mailbox = new FsMailboxStore({ root: fx.root, self: "clawbridge", stateDir: fx.stateDir });
    await mailbox.ensureLayout();
    writeFileSync(
      path.join(fx.root, "status", "nas-agent.json"),
      JSON.stringify({ state: "idle", updatedAt: new Date().toISOString() }),
    );

    const nodes = [
      nodeSchema.parse({ name: "ai-pc", url: gpu.url, tags: ["gpu"], maxConcurrent: 1 }),
      nodeSchema.parse({ name: "office-mac", url: remote.url, tags: ["gpu", "mac"] }),
      nodeSchema.parse({ name: "nas-agent" }),
    ];
    const aiPc = (await gatewayClient(gpu.url, { node: "ai-pc" })).client;
    const mac = (await gatewayClient(remote.url, { node: "office-mac", pairingRetryMs: 100 })).client;
    const pool = new NodePool({
      nodes,
      gateways: new Map([
        ["ai-pc", aiPc],
        ["office-mac", mac],
      ]),
      mailbox,
    });
    await pool.start({ statusPollMs: 60_000 });
    try {
      await waitFor(
        () =>
          pool.healthOf("ai-pc")?.status === "online" && pool.healthOf("office-mac")?.status === "pairing",
        {
          what: "ai-pc online and office-mac waiting for pairing",
        },
      );
      expect(pool.healthOf("office-mac")!.pairing!.command).toMatch(/^openclaw devices approve \S+/);
      expect(pool.healthOf("nas-agent")).toMatchObject({
        kind: "mailbox",
        status: "mailbox-live",
        healthy: true,
      });

      const picked = pool.select({ tag: "#gpu", kind: "gateway" });
      expect(picked).toMatchObject({ ok: true, node: { name: "ai-pc" } });
      const lease = pool.acquire("ai-pc")!;
      expect(pool.select({ tag: "gpu", kind: "gateway" })).toMatchObject({ ok: false, reason: "none-free" });
      lease.release();

      // Approved on office-mac's computer: it joins without a restart.
      remote.approve(remote.pendingPairings()[0]!.requestId);
      await waitFor(() => pool.healthOf("office-mac")?.status === "online", {
        what: "office-mac online after approval",
      });

      await gpu.close();
      await waitFor(() => pool.healthOf("ai-pc")?.status === "offline", { what: "ai-pc offline" });
      expect(pool.select({ tag: "gpu", kind: "gateway" })).toMatchObject({
        ok: true,
        node: { name: "office-mac" },
      });
    } finally {
      pool.stop();
    }
  });
});
