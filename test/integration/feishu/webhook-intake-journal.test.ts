import { describe, expect, it } from "vitest";
import type { InboundChatMessage } from "../../../src/feishu/index.js";
import type { FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuAdapter, feishuEmulator, serveWebhook } from "../../helpers/feishu.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

// Made-up secret for a loopback test.
const ENCRYPT_KEY = "intake-journal-test-key-not-real";

const webhookConfig = (emu: FeishuEmulator) => ({
  mode: "webhook" as const,
  encryptKey: ENCRYPT_KEY,
  verificationToken: emu.bridge.verificationToken,
});

describe("webhook intake journal", () => {
  it("an event acknowledged but not handled when the bridge died is handled by the next one, once", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const stateDir = tempDir();

    // The first bridge acknowledges every event, then "dies" before any handler finishes.
    const stuck: (() => void)[] = [];
    const first = await feishuAdapter(emu, { stateDir, config: webhookConfig(emu) });
    await first.adapter.start({ onMessage: () => new Promise<void>((resolve) => stuck.push(resolve)) });
    const firstServer = await serveWebhook(emu, first.adapter, ENCRYPT_KEY);
    const said = [1, 2, 3, 4, 5].map((i) =>
      emu.say(emu.defaultChat, wang, `/tell ai-pc job ${i}`, { mentions: ["bridge"] }),
    );
    for (const s of said) expect(await s.delivered).toMatchObject({ via: "webhook", status: 200 });
    await waitFor(() => stuck.length === 5, { what: "five handlers running" });
    await firstServer.close();

    // The next bridge, on the same state folder, hands each of them over.
    const received: InboundChatMessage[] = [];
    const second = await feishuAdapter(emu, { stateDir, config: webhookConfig(emu) });
    await second.adapter.start({ onMessage: (m) => void received.push(m) });
    const secondServer = await serveWebhook(emu, second.adapter, ENCRYPT_KEY);
    await waitFor(() => received.length === 5, { what: "the five events handled after the restart" });
    expect(received.map((m) => m.textWithoutBridgeMention).sort()).toEqual(
      [1, 2, 3, 4, 5].map((i) => `/tell ai-pc job ${i}`),
    );
    expect(second.sink.text()).toContain("handling webhook events received before the last stop");

    // Feishu sending one of them again is a duplicate, not a sixth.
    expect(await emu.redeliver(said[0]!.eventId).delivered).toMatchObject({ status: 200 });
    await waitFor(() => second.sink.text().includes("duplicate Feishu delivery dropped"), {
      what: "the redelivery recognised",
    });
    expect(received).toHaveLength(5);

    for (const resolve of stuck) resolve();
    await secondServer.close();
  });
});
