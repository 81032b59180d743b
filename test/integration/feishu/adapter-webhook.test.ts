import { describe, expect, it } from "vitest";
import type { CardActionEvent, InboundChatMessage } from "../../../src/feishu/index.js";
import { signWebhook, webhookRequest, type FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuAdapter, feishuEmulator, serveWebhook } from "../../helpers/feishu.js";
import { waitFor } from "../../helpers/wait.js";

// Made-up secrets for a loopback test.
const ENCRYPT_KEY = "test-encrypt-key-not-real-3f9a";

/** The adapter in webhook mode behind a real koa listener, and the emulator pushing to it. */
async function webhookBridge(emu: FeishuEmulator) {
  const received: InboundChatMessage[] = [];
  const actions: CardActionEvent[] = [];
  const { adapter, sink } = await feishuAdapter(emu, {
    config: { mode: "webhook", encryptKey: ENCRYPT_KEY, verificationToken: emu.bridge.verificationToken },
  });
  await adapter.start({
    onMessage: (m) => void received.push(m),
    onCardAction: (action) => {
      actions.push(action);
      return { toast: { type: "info", content: "收到" } };
    },
  });
  const { base, close } = await serveWebhook(emu, adapter, ENCRYPT_KEY);
  return { adapter, received, actions, sink, base, close };
}

describe("Feishu intake over the webhook", () => {
  it("answers the URL challenge and handles signed, encrypted events and card callbacks", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const bridge = await webhookBridge(emu);
    try {
      const challenge = await emu.challengeWebhook();
      expect(challenge).toMatchObject({ via: "webhook", status: 200 });
      expect(JSON.stringify((challenge as { body: unknown }).body)).toMatch(/"challenge":"/);

      const said = emu.say(emu.defaultChat, wang, "/tell ai-pc 你好", { mentions: ["bridge"] });
      expect(await said.delivered).toMatchObject({ via: "webhook", status: 200, body: { code: 0 } });
      await waitFor(() => bridge.received.length === 1);
      expect(bridge.received[0]).toMatchObject({
        messageId: said.messageId,
        textWithoutBridgeMention: "/tell ai-pc 你好",
      });

      await emu.redeliver(said.eventId).delivered;
      await emu.duplicateUnderNewId(said.eventId).delivered;

      const card = await bridge.adapter.outbound.send({
        chatId: emu.defaultChat,
        content: {
          kind: "card",
          card: { elements: [{ tag: "markdown", content: "T7" }] },
          fallbackText: "T7",
        },
      });
      const click = await emu.clickCard(card.messageId, wang, { action: "cancel", taskId: "T7" }).delivered;
      expect(click).toMatchObject({
        via: "webhook",
        status: 200,
        body: { toast: { type: "info", content: "收到" } },
      });
      expect(bridge.actions[0]?.action.value).toEqual({ action: "cancel", taskId: "T7" });
      expect(bridge.received).toHaveLength(1);
      expect(bridge.sink.text()).not.toContain(ENCRYPT_KEY);
    } finally {
      await bridge.close();
    }
  });

  it("refuses forged, stale, undecryptable, oversize and malformed requests with a 4xx and processes none", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const bridge = await webhookBridge(emu);
    try {
      const url = `${bridge.base}/feishu/events`;
      const payload = (id: string) => ({
        schema: "2.0",
        header: {
          event_id: id,
          event_type: "im.message.receive_v1",
          create_time: String(Date.now()),
          token: emu.bridge.verificationToken,
          app_id: emu.bridge.appId,
          tenant_key: "t",
        },
        event: {
          sender: { sender_id: { open_id: "ou_forger" }, sender_type: "user" },
          message: {
            message_id: `om_${id}`,
            chat_id: emu.defaultChat,
            chat_type: "group",
            message_type: "text",
            content: JSON.stringify({ text: `forged ${id}` }),
          },
        },
      });
      const post = (request: { headers: Record<string, string>; body: string }) =>
        fetch(url, { method: "POST", headers: request.headers, body: request.body });
      const good = (id: string) => webhookRequest({ payload: payload(id), encryptKey: ENCRYPT_KEY });

      const badSignature = good("bad-sig");
      badSignature.headers["x-lark-signature"] = "0".repeat(64);
      const stale = webhookRequest({
        payload: payload("stale"),
        encryptKey: ENCRYPT_KEY,
        timestamp: String(Math.floor(Date.now() / 1000) - 3600),
      });
      const wrongKey = webhookRequest({ payload: payload("wrong-key"), encryptKey: "some-other-key-abc" });
      const wrongToken = webhookRequest({
        payload: { ...payload("wrong-token"), header: { ...payload("x").header, token: "not-the-token" } },
        encryptKey: ENCRYPT_KEY,
      });
      // Correctly signed, but the ciphertext is garbage.
      const garbled = JSON.stringify({ encrypt: Buffer.from("0123456789abcdef-not-aes").toString("base64") });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const undecryptable = {
        headers: {
          "content-type": "application/json",
          "x-lark-request-timestamp": timestamp,
          "x-lark-request-nonce": "n0nce",
          "x-lark-signature": signWebhook(timestamp, "n0nce", ENCRYPT_KEY, garbled),
        },
        body: garbled,
      };
      const malformed = { headers: { "content-type": "application/json" }, body: "{not json" };
      const oversize = {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(1_100_000) }),
      };

      const statuses = {
        badSignature: (await post(badSignature)).status,
        stale: (await post(stale)).status,
        wrongKey: (await post(wrongKey)).status,
        wrongToken: (await post(wrongToken)).status,
        undecryptable: (await post(undecryptable)).status,
        malformed: (await post(malformed)).status,
        oversize: (await post(oversize)).status,
      };
      expect(statuses).toEqual({
        badSignature: 401,
        stale: 401,
        wrongKey: 401,
        wrongToken: 403,
        undecryptable: 400,
        malformed: 400,
        oversize: 413,
      });
      // A genuine push afterwards is the only thing handled.
      const real = emu.say(emu.defaultChat, wang, "real", { mentions: ["bridge"] });
      await real.delivered;
      await waitFor(() => bridge.received.length >= 1);
      expect(bridge.received.map((m) => m.messageId)).toEqual([real.messageId]);
      expect(bridge.adapter.health().intakeStats.received).toBe(1);
    } finally {
      await bridge.close();
    }
  });
});
