import { createDecipheriv, createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import * as lark from "@larksuiteoapi/node-sdk";
import { afterEach, describe, expect, it } from "vitest";
import { encryptWebhookBody, signWebhook, webhookRequest } from "../../../src/sim/feishu/index.js";
import { feishuEmulator, larkClient, quietLarkLogger } from "../../helpers/feishu.js";
import { waitFor } from "../../helpers/wait.js";

const ENCRYPT_KEY = "test-encrypt-key-0123456789";
const VERIFICATION_TOKEN = "test-verification-token";

// Loose view of pushed JSON.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

/** A receiver that records each push and answers with `answer(parsed body)`. */
async function receiver(answer: (body: Json, url: string) => unknown = () => ({ ok: true })) {
  const received: Received[] = [];
  const base = await listen((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      received.push({ url: req.url ?? "", headers: req.headers, raw });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(answer(JSON.parse(raw) as Json, req.url ?? "")));
    });
  });
  return { base, received };
}

/** The test's own decryption, with node:crypto only. */
function decrypt(encrypt: string, key = ENCRYPT_KEY): Json {
  const data = Buffer.from(encrypt, "base64");
  const aes = createHash("sha256").update(key).digest();
  const decipher = createDecipheriv("aes-256-cbc", aes, data.subarray(0, 16));
  return JSON.parse(
    Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString("utf8"),
  ) as Json;
}

function expectedSignature(r: Received, key = ENCRYPT_KEY): string {
  const ts = String(r.headers["x-lark-request-timestamp"]);
  const nonce = String(r.headers["x-lark-request-nonce"]);
  return createHash("sha256")
    .update(ts + nonce + key + r.raw)
    .digest("hex");
}

describe("feishu emulator: webhook push", () => {
  it("posts signed, encrypted events and resolves with the receiver's answer", async () => {
    const emu = await feishuEmulator();
    const { base, received } = await receiver(() => ({ code: 0 }));
    emu.useWebhook({
      eventsUrl: `${base}/events`,
      encryptKey: ENCRYPT_KEY,
      verificationToken: VERIFICATION_TOKEN,
    });
    const alice = emu.addPerson({ name: "alice" });
    const emitted = emu.say(emu.defaultChat, alice, "over http", { mentions: ["bridge"] });
    const result = await emitted.delivered;
    expect(result).toMatchObject({ via: "webhook", status: 200, body: { code: 0 } });
    const push = received[0]!;
    expect(push.url).toBe("/events");
    expect(push.headers["x-lark-signature"]).toBe(expectedSignature(push));
    const ts = Number(push.headers["x-lark-request-timestamp"]);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(60);
    const outer = JSON.parse(push.raw) as Json;
    expect(Object.keys(outer)).toEqual(["encrypt"]);
    const event = decrypt(outer.encrypt);
    expect(event).toMatchObject({
      schema: "2.0",
      header: { event_id: emitted.eventId, event_type: "im.message.receive_v1", token: VERIFICATION_TOKEN },
      event: {
        message: { message_id: emitted.messageId },
        sender: { sender_id: { union_id: alice.unionId } },
      },
    });
  });

  it("posts plain JSON without a signature when no encrypt key is set", async () => {
    const emu = await feishuEmulator();
    const { base, received } = await receiver();
    emu.useWebhook({ eventsUrl: `${base}/plain` });
    await emu.say(emu.defaultChat, emu.addPerson({ name: "bo" }), "plain").delivered;
    expect(received[0]!.headers["x-lark-signature"]).toBeUndefined();
    expect(received[0]!.headers["x-lark-request-timestamp"]).toMatch(/^\d+$/);
    expect((JSON.parse(received[0]!.raw) as Json).header.token).toBe(emu.bridge.verificationToken);
  });

  it("sends the url_verification challenge (encrypted when a key is set)", async () => {
    const emu = await feishuEmulator();
    const { base, received } = await receiver((body) => {
      const plain = body.encrypt ? decrypt(body.encrypt) : body;
      return plain.type === "url_verification" ? { challenge: plain.challenge } : {};
    });
    emu.useWebhook({
      eventsUrl: `${base}/events`,
      encryptKey: ENCRYPT_KEY,
      verificationToken: VERIFICATION_TOKEN,
    });
    const result = await emu.challengeWebhook();
    expect(result).toMatchObject({ status: 200, body: { challenge: result.challenge } });
    expect(decrypt((JSON.parse(received[0]!.raw) as Json).encrypt)).toEqual({
      challenge: result.challenge,
      token: VERIFICATION_TOKEN,
      type: "url_verification",
    });
    expect(received[0]!.headers["x-lark-signature"]).toBeUndefined();
    expect(received[0]!.headers["x-lark-request-timestamp"]).toBeUndefined();
    const signed = await emu.challengeWebhook(undefined, { signed: true });
    expect(signed.status).toBe(200);
    expect(received[1]!.headers["x-lark-signature"]).toBe(expectedSignature(received[1]!));
  });

  it("sends card actions to cardsUrl and applies the answer", async () => {
    const emu = await feishuEmulator();
    const { base, received } = await receiver((_body, url) =>
      url === "/cards"
        ? {
            toast: { type: "info", content: "noted" },
            card: { elements: [{ tag: "markdown", content: "x" }] },
          }
        : {},
    );
    emu.useWebhook({ eventsUrl: `${base}/events`, cardsUrl: `${base}/cards` });
    const client = larkClient(emu);
    const sent = await client.im.v1.message.create({
      params: { receive_id_type: "chat_id" },
      data: {
        receive_id: emu.defaultChat,
        msg_type: "interactive",
        content: JSON.stringify({ elements: [] }),
      },
    });
    const id = sent.data!.message_id!;
    const result = await emu.clickCard(id, emu.addPerson({ name: "cy" }), { k: 1 }).delivered;
    expect(result).toMatchObject({ via: "webhook", status: 200, body: { toast: { content: "noted" } } });
    expect(received.map((r) => r.url)).toEqual(["/cards"]);
    expect(emu.lastToast).toEqual({ type: "info", content: "noted" });
    expect(emu.message(id)?.content).toEqual({ elements: [{ tag: "markdown", content: "x" }] });
  });

  it("is accepted by the SDK's own webhook dispatcher (signature, decryption, auto challenge)", async () => {
    const emu = await feishuEmulator();
    const got: Json[] = [];
    const dispatcher = new lark.EventDispatcher({
      encryptKey: ENCRYPT_KEY,
      verificationToken: VERIFICATION_TOKEN,
      logger: quietLarkLogger,
      loggerLevel: lark.LoggerLevel.error,
    }).register({
      "im.message.receive_v1": async (data: Json) => {
        got.push(data);
      },
    } as never);
    const base = await listen(lark.adaptDefault("/hook", dispatcher, { autoChallenge: true }));
    emu.useWebhook({
      eventsUrl: `${base}/hook`,
      encryptKey: ENCRYPT_KEY,
      verificationToken: VERIFICATION_TOKEN,
    });
    const challenge = await emu.challengeWebhook();
    expect(challenge.body).toEqual({ challenge: challenge.challenge });
    const emitted = emu.say(emu.defaultChat, emu.addPerson({ name: "di" }), "via sdk");
    expect(await emitted.delivered).toMatchObject({ status: 200 });
    await waitFor(() => got.length === 1, { what: "the SDK handler" });
    expect(got[0]).toMatchObject({ event_id: emitted.eventId, message: { message_id: emitted.messageId } });
  });

  it("exports the signing helpers for crafted requests", () => {
    const request = webhookRequest({ payload: { a: 1 }, encryptKey: "k", timestamp: "100", nonce: "n" });
    expect(request.headers["x-lark-signature"]).toBe(signWebhook("100", "n", "k", request.body));
    expect(decrypt((JSON.parse(request.body) as Json).encrypt, "k")).toEqual({ a: 1 });
    expect(decrypt(encryptWebhookBody("k2", '{"b":2}'), "k2")).toEqual({ b: 2 });
  });
});
