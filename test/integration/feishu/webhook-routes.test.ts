import crypto from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/core/index.js";
import type { CardActionAnswer } from "../../../src/feishu/types.js";
import { webhookRoutes, type WebhookMeta, type WebhookRoutes } from "../../../src/feishu/webhook/index.js";
import { logSink } from "../../helpers/log-sink.js";
import { waitFor } from "../../helpers/wait.js";

// Made-up values; long enough that finding them in the log would mean a leak, not chance.
const ENCRYPT_KEY = "integration-test-encrypt-key";
const TOKEN = "integration-test-verification-token";
const MAX_BODY = 4096;
const CARD_TIMEOUT_MS = 100;

type Payload = Record<string, unknown>;
type Received = { payload: Payload; meta: WebhookMeta };

const sink = logSink();
const received: Received[] = [];
let onEvent: (payload: Payload, meta: WebhookMeta) => unknown;
let onCardAction: (payload: Payload, meta: WebhookMeta) => Promise<CardActionAnswer | undefined>;
let routes: WebhookRoutes;
let server: http.Server;
let base: string;
let port: number;

beforeAll(async () => {
  routes = webhookRoutes({
    encryptKey: ENCRYPT_KEY,
    verificationToken: TOKEN,
    maxBodyBytes: MAX_BODY,
    cardAnswerTimeoutMs: CARD_TIMEOUT_MS,
    logger: createLogger({ destination: sink.stream, level: "debug", pretty: false }),
    onEvent: (payload, meta) => onEvent(payload, meta),
    onCardAction: (payload, meta) => onCardAction(payload, meta),
  });
  const app = new Koa();
  app.use(routes.middleware());
  server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await routes.drain(5_000);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  const log = sink.text();
  expect(log).not.toContain(ENCRYPT_KEY);
  expect(log).not.toContain(TOKEN);
});

beforeEach(() => {
  received.length = 0;
  onEvent = (payload, meta) => void received.push({ payload, meta });
  onCardAction = async () => undefined;
});

// --- Feishu's side, written from the spec independently of the implementation ---

function encrypt(plaintext: string, key = ENCRYPT_KEY): string {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", crypto.createHash("sha256").update(key).digest(), iv);
  return Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
}

function signHeaders(raw: string, timestamp = String(Math.floor(Date.now() / 1000))) {
  const nonce = crypto.randomBytes(8).toString("hex");
  const signature = crypto
    .createHash("sha256")
    .update(timestamp + nonce + ENCRYPT_KEY + raw)
    .digest("hex");
  return {
    "content-type": "application/json; charset=utf-8",
    "x-lark-request-timestamp": timestamp,
    "x-lark-request-nonce": nonce,
    "x-lark-signature": signature,
  };
}

function messageEvent(eventId: string, token = TOKEN): Payload {
  return {
    schema: "2.0",
    header: {
      event_id: eventId,
      event_type: "im.message.receive_v1",
      create_time: String(Date.now()),
      token,
      app_id: "cli_0123456789abcdef",
      tenant_key: "tenant_test",
    },
    event: {
      sender: { sender_id: { open_id: "ou_sender0001", union_id: "on_sender0001" }, sender_type: "user" },
      message: {
        message_id: `om_${eventId}`,
        chat_id: "oc_chat0001",
        chat_type: "group",
        message_type: "text",
        content: JSON.stringify({ text: "@_user_1 你好" }),
      },
    },
  };
}

function cardAction(eventId: string): Payload {
  return {
    schema: "2.0",
    header: {
      event_id: eventId,
      event_type: "card.action.trigger",
      token: TOKEN,
      app_id: "cli_0123456789abcdef",
    },
    event: {
      operator: { open_id: "ou_operator0001", union_id: "on_operator0001" },
      token: "c-card-update-token",
      action: { tag: "button", value: { cmd: "approve", task: "t1" } },
      host: "im_message",
      context: { open_message_id: "om_card0001", open_chat_id: "oc_chat0001" },
    },
  };
}

/** A signed, encrypted push, as Feishu sends it with both the encrypt key and the token set. */
function sealed(payload: Payload, timestamp?: string) {
  const raw = JSON.stringify({ encrypt: encrypt(JSON.stringify(payload)) });
  return { body: raw, headers: signHeaders(raw, timestamp) };
}

async function post(path: string, request: { body: string; headers: Record<string, string> }) {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, { method: "POST", ...request });
  const text = await res.text();
  const json = res.headers.get("content-type")?.startsWith("application/json")
    ? (JSON.parse(text) as Payload)
    : undefined;
  return { status: res.status, json, text, ms: performance.now() - started };
}

/** Proves nothing was dispatched: a good push sent afterwards is handled, and it alone. */
async function expectOnlySentinelProcessed() {
  const id = `evt_sentinel_${crypto.randomBytes(4).toString("hex")}`;
  expect((await post("/feishu/events", sealed(messageEvent(id)))).status).toBe(200);
  await waitFor(() => received.some((r) => r.meta.eventId === id), { what: "the sentinel event" });
  expect(received.map((r) => r.meta.eventId)).toEqual([id]);
}

/** Refusals logged with this reason so far (each refusal is logged exactly once, at warn). */
function refusals(reason: string) {
  const refused = (r: Record<string, unknown>) =>
    r.level === 40 && r.reason === reason && r.code === "CB_WEBHOOK_REJECTED";
  return sink.records().filter(refused).length;
}

describe("events", () => {
  it("acks a signed, encrypted event at once and hands the decrypted payload to onEvent", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    onEvent = async (payload, meta) => {
      await gate;
      received.push({ payload, meta });
    };
    const payload = messageEvent("evt_good0001");
    const res = await post("/feishu/events", sealed(payload));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ code: 0 });
    // The handler is still blocked: the answer did not wait for it.
    expect(routes.inFlight).toBe(1);
    const drained = routes.drain();
    release();
    await drained;
    expect(received).toHaveLength(1);
    expect(received[0]!.payload).toEqual(payload);
    expect(received[0]!.meta).toMatchObject({
      eventId: "evt_good0001",
      eventType: "im.message.receive_v1",
      route: "events",
    });
    expect(routes.inFlight).toBe(0);
  });

  it("answers 200 when onEvent throws, and logs the failure", async () => {
    onEvent = () => {
      throw new Error("handler exploded");
    };
    const res = await post("/feishu/events", sealed(messageEvent("evt_throws")));
    expect(res).toMatchObject({ status: 200, json: { code: 0 } });
    await waitFor(() =>
      sink
        .records()
        .some((r) => r.level === 50 && r.msg === "event handler failed" && r.eventId === "evt_throws"),
    );
  });

  it("answers the URL verification challenge (encrypted, unsigned)", async () => {
    const raw = JSON.stringify({
      encrypt: encrypt(
        JSON.stringify({ challenge: "challenge-abc", token: TOKEN, type: "url_verification" }),
      ),
    });
    const res = await post("/feishu/events", { body: raw, headers: { "content-type": "application/json" } });
    expect(res).toMatchObject({ status: 200, json: { challenge: "challenge-abc" } });
    expect(received).toHaveLength(0);
  });
});

describe("refusals never reach the handlers", () => {
  const stale = String(Math.floor(Date.now() / 1000) - 3600);
  const cases: Array<[string, number, string, () => { body: string; headers: Record<string, string> }]> = [
    [
      "bad signature",
      401,
      "bad_signature",
      () => {
        const req = sealed(messageEvent("evt_bad_sig"));
        return { ...req, headers: { ...req.headers, "x-lark-signature": "f".repeat(64) } };
      },
    ],
    [
      "missing signature",
      401,
      "missing_signature",
      () => ({
        body: JSON.stringify(messageEvent("evt_unsigned")),
        headers: { "content-type": "application/json" },
      }),
    ],
    ["stale timestamp", 401, "stale_timestamp", () => sealed(messageEvent("evt_stale"), stale)],
    ["wrong token", 403, "bad_token", () => sealed(messageEvent("evt_bad_token", "wrong-token-value"))],
    [
      "undecryptable body",
      400,
      "undecryptable",
      () => {
        const raw = JSON.stringify({ encrypt: crypto.randomBytes(64).toString("base64") });
        return { body: raw, headers: signHeaders(raw) };
      },
    ],
    [
      "malformed JSON",
      400,
      "malformed_json",
      () => ({ body: "{not json", headers: signHeaders("{not json") }),
    ],
    [
      "wrong content type",
      415,
      "unsupported_media_type",
      () => {
        const req = sealed(messageEvent("evt_form"));
        return { ...req, headers: { ...req.headers, "content-type": "application/x-www-form-urlencoded" } };
      },
    ],
    [
      "oversize body (Content-Length)",
      413,
      "too_large",
      () => {
        const raw = JSON.stringify({ ...messageEvent("evt_big"), padding: "x".repeat(MAX_BODY) });
        return { body: raw, headers: signHeaders(raw) };
      },
    ],
  ];

  it.each(cases)("%s → %i %s", async (_name, status, reason, build) => {
    const before = refusals(reason);
    for (const path of ["/feishu/events", "/feishu/cards"]) {
      const res = await post(path, build());
      expect(res.status).toBe(status);
      expect(res.json).toEqual({ code: status, msg: expect.any(String) });
    }
    expect(refusals(reason)).toBe(before + 2);
    await expectOnlySentinelProcessed();
  });

  it("refuses a streamed (chunked) body once it crosses the cap → 413", async () => {
    const chunk = new TextEncoder().encode(`{"padding":"${"x".repeat(MAX_BODY / 4)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${base}/feishu/events`, {
      method: "POST",
      body,
      duplex: "half",
      headers: { "content-type": "application/json", "x-lark-signature": "0".repeat(64) },
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ code: 413, msg: expect.any(String) });
    await expectOnlySentinelProcessed();
  });

  it("answers 413 by Content-Length without waiting for the body", async () => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/feishu/events",
      headers: { "content-type": "application/json", "content-length": String(50 * 1024 * 1024) },
    });
    req.on("error", () => undefined); // the server closes the connection after answering
    req.write('{"padding":"');
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const part of res) chunks.push(part as Buffer);
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(Buffer.concat(chunks).toString("utf8"))).toMatchObject({ code: 413 });
    await expectOnlySentinelProcessed();
  });

  it("allows only POST on the exact paths", async () => {
    for (const path of ["/feishu/events", "/feishu/cards"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await fetch(`${base}${path}`, { method });
        expect(res.status).toBe(405);
        expect(res.headers.get("allow")).toBe("POST");
      }
    }
    for (const path of ["/feishu/events/", "/feishu/eventsx", "/Feishu/events", "/feishu"]) {
      expect((await post(path, sealed(messageEvent("evt_wrong_path")))).status).toBe(404);
    }
    await expectOnlySentinelProcessed();
  });

  it("logs a refusal without the body or secrets", async () => {
    const req = sealed(messageEvent("evt_secret_probe", "wrong-token-value"));
    await post("/feishu/events", req);
    const record = sink
      .records()
      .filter((r) => r.reason === "bad_token")
      .at(-1)!;
    expect(record).toMatchObject({ level: 40, status: 403, remote: expect.stringContaining("127.0.0.1") });
    const line = JSON.stringify(record);
    expect(line).not.toContain("evt_secret_probe");
    expect(line).not.toContain(JSON.parse(req.body).encrypt);
    expect(line).not.toContain("wrong-token-value");
  });
});

describe("card actions", () => {
  it("answers with the handler's toast and card", async () => {
    const card = { schema: "2.0", body: { elements: [{ tag: "markdown", content: "已批准" }] } };
    const seen: Received[] = [];
    onCardAction = async (payload, meta) => {
      seen.push({ payload, meta });
      return { toast: { type: "success", content: "已批准" }, card };
    };
    const payload = cardAction("evt_card0001");
    const res = await post("/feishu/cards", sealed(payload));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      toast: { type: "success", content: "已批准" },
      card: { type: "raw", data: card },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.payload).toEqual(payload);
    expect(seen[0]!.meta).toMatchObject({
      eventId: "evt_card0001",
      eventType: "card.action.trigger",
      route: "cards",
    });
    expect(received).toHaveLength(0);
  });

  it("answers {} after cardAnswerTimeoutMs when the handler is slow, and lets it finish", async () => {
    let finished = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    onCardAction = async () => {
      await gate;
      finished = true;
      return { toast: { type: "info", content: "too late" } };
    };
    const res = await post("/feishu/cards", sealed(cardAction("evt_card_slow")));
    expect(res).toMatchObject({ status: 200, json: {} });
    expect(res.ms).toBeGreaterThanOrEqual(CARD_TIMEOUT_MS - 5);
    expect(res.ms).toBeLessThan(CARD_TIMEOUT_MS + 2_000);
    expect(finished).toBe(false);
    expect(sink.records().some((r) => r.level === 40 && r.eventId === "evt_card_slow")).toBe(true);
    release();
    await waitFor(() => finished, { what: "the slow card handler" });
    await waitFor(() =>
      sink
        .records()
        .some((r) => r.msg === "slow card action handler finished" && r.eventId === "evt_card_slow"),
    );
  });

  it("answers {} when the card handler throws", async () => {
    onCardAction = async () => {
      throw new Error("card handler exploded");
    };
    const res = await post("/feishu/cards", sealed(cardAction("evt_card_throws")));
    expect(res).toMatchObject({ status: 200, json: {} });
    expect(sink.records().some((r) => r.level === 50 && r.eventId === "evt_card_throws")).toBe(true);
  });

  it("treats a non-card event on the cards route as an event", async () => {
    const res = await post("/feishu/cards", sealed(messageEvent("evt_on_cards")));
    expect(res).toMatchObject({ status: 200, json: { code: 0 } });
    await waitFor(() => received.length === 1);
    expect(received[0]!.meta).toMatchObject({ eventId: "evt_on_cards", route: "cards" });
  });

  it("answers a card action that arrives on the events route (one URL for both)", async () => {
    onCardAction = async () => ({ toast: { type: "info", content: "ok" } });
    const res = await post("/feishu/events", sealed(cardAction("evt_card_on_events")));
    expect(res).toMatchObject({ status: 200, json: { toast: { type: "info", content: "ok" } } });
  });
});
