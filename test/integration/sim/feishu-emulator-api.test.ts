import type * as lark from "@larksuiteoapi/node-sdk";
import { describe, expect, it } from "vitest";
import { feishuEmulator, larkClient } from "../../helpers/feishu.js";

interface HttpFailure {
  status: number;
  data: { code: number; msg: string };
  headers: Record<string, string>;
}

/** The HTTP answer of a call the SDK rejected (axios error). */
async function failure(promise: Promise<unknown>): Promise<HttpFailure> {
  try {
    await promise;
  } catch (error) {
    const response = (error as { response?: HttpFailure }).response;
    if (response) return response;
    throw error;
  }
  throw new Error("expected the call to fail");
}

const text = (t: string) => JSON.stringify({ text: t });
const card = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    config: { update_multi: true },
    elements: [{ tag: "markdown", content: "working…" }],
    ...extra,
  });

function send(c: lark.Client, chatId: string, content: string, msgType = "text", uuid?: string) {
  return c.im.v1.message.create({
    params: { receive_id_type: "chat_id" },
    data: { receive_id: chatId, msg_type: msgType, content, ...(uuid ? { uuid } : {}) },
  });
}

describe("feishu emulator: identity and tokens", () => {
  it("issues a tenant token and answers bot info for the bridge app", async () => {
    const e = await feishuEmulator();
    expect(e.bridge.appId).toMatch(/^cli_[0-9a-f]{16}$/);
    expect(e.bridge.appSecret).toHaveLength(32);
    const info = await larkClient(e).request<{ code: number; bot: Record<string, unknown> }>({
      url: "/open-apis/bot/v3/info",
      method: "GET",
    });
    expect(info.code).toBe(0);
    expect(info.bot).toMatchObject({
      open_id: e.bridge.botOpenId,
      app_name: "clawbridge",
      activate_status: 2,
    });
    const tokenCalls = e.callsTo("/open-apis/auth/v3/tenant_access_token/internal");
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]).toMatchObject({ status: 200, code: 0, appId: e.bridge.appId });
  });

  it("refuses a wrong secret (400/10014) and a missing or revoked token (99991661/99991663)", async () => {
    const e = await feishuEmulator();
    const bad = larkClient(e, { ...e.bridge, appSecret: "wrong-secret-0123456789" });
    const refused = await failure(bad.request({ url: "/open-apis/bot/v3/info", method: "GET" }));
    expect(refused).toMatchObject({ status: 400, data: { code: 10014 } });

    const raw = await fetch(`${e.url}/open-apis/bot/v3/info`);
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ code: 99991661 });

    const c = larkClient(e);
    await c.request({ url: "/open-apis/bot/v3/info", method: "GET" });
    e.revokeTokens();
    // The SDK keeps its cached token: every call now fails until the client is rebuilt.
    const revoked = await failure(c.request({ url: "/open-apis/bot/v3/info", method: "GET" }));
    expect(revoked).toMatchObject({ status: 400, data: { code: 99991663 } });
  });

  it("gives every app its own open_id for the same person, and one union_id", async () => {
    const e = await feishuEmulator();
    const node = e.addBot({ name: "node-a" });
    const alice = e.addPerson({ name: "alice" });
    expect(alice.openIdFor(e.bridge.appId)).not.toBe(alice.openIdFor(node.appId));
    expect(node.openIdFor(e.bridge.appId)).not.toBe(node.openIdFor(node.appId));
    expect(alice.unionId).toMatch(/^on_/);
    const nodeInfo = await larkClient(e, e.appInfo(node.appId)).request<{
      bot: { open_id: string; app_name: string };
    }>({
      url: "/open-apis/bot/v3/info",
      method: "GET",
    });
    expect(nodeInfo.bot).toEqual(
      expect.objectContaining({ open_id: node.openIdFor(node.appId), app_name: "node-a" }),
    );
  });
});

describe("feishu emulator: messages", () => {
  it("sends once per uuid: the same uuid returns the first message", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    const first = await send(c, e.defaultChat, text("hello"), "text", "uuid-1");
    const again = await send(c, e.defaultChat, text("hello"), "text", "uuid-1");
    expect(first.code).toBe(0);
    expect(first.data).toMatchObject({
      chat_id: e.defaultChat,
      msg_type: "text",
      sender: { id: e.bridge.appId },
    });
    expect(again.data?.message_id).toBe(first.data?.message_id);
    expect(e.messages(e.defaultChat)).toHaveLength(1);
    expect(e.messages()[0]).toMatchObject({
      text: "hello",
      uuid: "uuid-1",
      origin: "api",
      senderAppId: e.bridge.appId,
    });
  });

  it("replies in a thread: parent, root and thread ids", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    const root = await send(c, e.defaultChat, text("root"));
    const rootId = root.data!.message_id!;
    const reply = await c.im.v1.message.reply({
      path: { message_id: rootId },
      data: { msg_type: "text", content: text("in thread"), reply_in_thread: true, uuid: "r-1" },
    });
    expect(reply.data).toMatchObject({ parent_id: rootId, root_id: rootId, chat_id: e.defaultChat });
    expect(reply.data?.thread_id).toMatch(/^omt_/);
    const second = await c.im.v1.message.reply({
      path: { message_id: reply.data!.message_id! },
      data: { msg_type: "text", content: text("again") },
    });
    expect(second.data).toMatchObject({ root_id: rootId, thread_id: reply.data!.thread_id });
    expect(e.message(rootId)?.threadId).toBe(reply.data!.thread_id);
    const missing = await failure(
      c.im.v1.message.reply({
        path: { message_id: "om_missing" },
        data: { msg_type: "text", content: text("x") },
      }),
    );
    expect(missing.data.code).toBe(230011);
  });

  it("patches only update_multi cards, and records every patch", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    const live = await send(c, e.defaultChat, card(), "interactive");
    const id = live.data!.message_id!;
    expect(e.message(id)?.updateMulti).toBe(true);
    const done = { config: { update_multi: true }, elements: [{ tag: "markdown", content: "done" }] };
    const patched = await c.im.v1.message.patch({
      path: { message_id: id },
      data: { content: JSON.stringify(done) },
    });
    expect(patched.code).toBe(0);
    expect(e.message(id)?.content).toEqual(done);
    expect(e.message(id)?.patches).toHaveLength(1);

    const privateCard = await send(c, e.defaultChat, JSON.stringify({ elements: [] }), "interactive");
    const refused = await failure(
      c.im.v1.message.patch({
        path: { message_id: privateCard.data!.message_id! },
        data: { content: card() },
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.data.code).toBe(230031);
    expect(refused.data.msg).toContain("update_multi required");

    const plain = await send(c, e.defaultChat, text("plain"));
    const notCard = await failure(
      c.im.v1.message.patch({ path: { message_id: plain.data!.message_id! }, data: { content: card() } }),
    );
    expect(notCard.data.code).toBe(230001);
  });

  it("refuses oversize text, invalid cards, unknown chats and bad msg_type", async () => {
    const e = await feishuEmulator({ limits: { textMaxBytes: 100, cardMaxBytes: 200 } });
    const c = larkClient(e);
    expect((await failure(send(c, e.defaultChat, text("x".repeat(200))))).data.code).toBe(230025);
    expect(
      (await failure(send(c, e.defaultChat, card({ pad: "y".repeat(300) }), "interactive"))).data.code,
    ).toBe(230025);
    expect(
      (await failure(send(c, e.defaultChat, JSON.stringify({ nope: 1 }), "interactive"))).data.code,
    ).toBe(230099);
    expect(
      (await failure(send(c, e.defaultChat, card({ header: { title: "i_am_invalid" } }), "interactive"))).data
        .code,
    ).toBe(230099);
    expect((await failure(send(c, "oc_unknown", text("hi")))).data.code).toBe(230002);
    expect((await failure(send(c, e.defaultChat, text("hi"), "sticker"))).data.code).toBe(99992402);
    expect(e.messages()).toHaveLength(0);
  });

  it("answers chat info for a chat the bot is in", async () => {
    const e = await feishuEmulator();
    const alice = e.addPerson({ name: "alice" });
    const chatId = e.createChat({ name: "ops", members: [alice, "bridge"] });
    const res = await larkClient(e).im.v1.chat.get({ path: { chat_id: chatId } });
    expect(res.data).toMatchObject({ name: "ops", chat_mode: "group", user_count: "1", bot_count: "1" });
    expect(res.data?.owner_id).toBe(alice.openIdFor(e.bridge.appId));
  });
});

describe("feishu emulator: limits", () => {
  it("limits sends per chat to sendPerChatQps (400/230020)", async () => {
    const e = await feishuEmulator({ limits: { sendPerChatQps: 3 } });
    const c = larkClient(e);
    for (let i = 0; i < 3; i++) await send(c, e.defaultChat, text(`m${i}`));
    const refused = await failure(send(c, e.defaultChat, text("one too many")));
    expect(refused).toMatchObject({ status: 400, data: { code: 230020 } });
    // Another chat has its own window.
    const other = e.createChat({ members: ["bridge"] });
    expect((await send(c, other, text("elsewhere"))).code).toBe(0);
    expect(e.messages(e.defaultChat)).toHaveLength(3);
  });

  it("limits patches per message (230020)", async () => {
    const e = await feishuEmulator({ limits: { patchPerMessageQps: 2 } });
    const c = larkClient(e);
    const id = (await send(c, e.defaultChat, card(), "interactive")).data!.message_id!;
    const patch = () => c.im.v1.message.patch({ path: { message_id: id }, data: { content: card() } });
    await patch();
    await patch();
    expect((await failure(patch())).data.code).toBe(230020);
  });

  it("limits the app to appQps with 429/99991400 and x-ogw-ratelimit headers", async () => {
    const e = await feishuEmulator({ limits: { appQps: 4, sendPerChatQps: Infinity } });
    const c = larkClient(e);
    for (let i = 0; i < 4; i++) await send(c, e.defaultChat, text(`m${i}`));
    const refused = await failure(send(c, e.defaultChat, text("over")));
    expect(refused.status).toBe(429);
    expect(refused.data.code).toBe(99991400);
    expect(refused.headers["x-ogw-ratelimit-limit"]).toBe("4");
    expect(Number(refused.headers["x-ogw-ratelimit-reset"])).toBeGreaterThanOrEqual(1);
  });
});

describe("feishu emulator: faults", () => {
  it("answers a one-shot 429 with headers, then works again", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    e.fault({ method: "POST", path: "/open-apis/im/v1/messages", status: 429, resetSec: 2 });
    const refused = await failure(send(c, e.defaultChat, text("a"), "text", "u-a"));
    expect(refused).toMatchObject({ status: 429, data: { code: 99991400 } });
    expect(refused.headers["x-ogw-ratelimit-reset"]).toBe("2");
    expect(e.messages()).toHaveLength(0);
    expect((await send(c, e.defaultChat, text("a"), "text", "u-a")).code).toBe(0);
    expect(e.messages()).toHaveLength(1);
  });

  it("answers 5xx `times` times without creating the message", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    e.fault({ path: /\/im\/v1\/messages$/, status: 503, times: 2 });
    expect(await failure(send(c, e.defaultChat, text("a")))).toMatchObject({
      status: 503,
      data: { code: 1 },
    });
    expect((await failure(send(c, e.defaultChat, text("a")))).status).toBe(503);
    expect(e.messages()).toHaveLength(0);
    await send(c, e.defaultChat, text("a"));
    expect(e.messages()).toHaveLength(1);
    expect(e.callsTo("/open-apis/im/v1/messages").map((call) => call.status)).toEqual([503, 503, 200]);
  });

  it("commitThenFail creates the message, and a retry with the same uuid does not post twice", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    e.fault({ method: "POST", path: "/open-apis/im/v1/messages", status: 500, commitThenFail: true });
    expect((await failure(send(c, e.defaultChat, text("once"), "text", "u-once"))).status).toBe(500);
    expect(e.messages()).toHaveLength(1);
    const retried = await send(c, e.defaultChat, text("once"), "text", "u-once");
    expect(retried.data?.message_id).toBe(e.messages()[0]!.messageId);
    expect(e.messages()).toHaveLength(1);
  });

  it("adds latency per fault and globally", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    await c.request({ url: "/open-apis/bot/v3/info", method: "GET" });
    e.fault({ path: "/open-apis/bot/v3/info", latencyMs: 150 });
    let t0 = performance.now();
    await c.request({ url: "/open-apis/bot/v3/info", method: "GET" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    e.setLatency(100);
    t0 = performance.now();
    await c.request({ url: "/open-apis/bot/v3/info", method: "GET" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    e.clearFaults();
  });
});

describe("feishu emulator: call log and control API", () => {
  it("records calls without secrets or tokens", async () => {
    const e = await feishuEmulator();
    const c = larkClient(e);
    await send(c, e.defaultChat, text("hello"), "text", "u-1");
    await larkClient(e, { ...e.bridge, appSecret: "another-wrong-secret" })
      .request({ url: "/open-apis/bot/v3/info", method: "GET" })
      .catch(() => undefined);
    await fetch(`${e.url}/callback/ws/endpoint`, {
      method: "POST",
      body: JSON.stringify({ AppID: e.bridge.appId, AppSecret: e.bridge.appSecret }),
    });
    const dump = JSON.stringify(e.calls);
    expect(dump).not.toContain(e.bridge.appSecret);
    expect(dump).not.toContain("another-wrong-secret");
    expect(dump).not.toMatch(/t-[0-9a-f]{40}/);
    expect(dump).toContain("[REDACTED]");
    const sent = e.callsTo("/open-apis/im/v1/messages")[0]!;
    expect(sent).toMatchObject({
      method: "POST",
      query: { receive_id_type: "chat_id" },
      appId: e.bridge.appId,
      code: 0,
    });
    expect(sent.body).toMatchObject({ receive_id: e.defaultChat, uuid: "u-1" });
  });

  it("drives the emulator over /_emulator and answers unknown routes with 404 JSON", async () => {
    const e = await feishuEmulator();
    const said = await fetch(`${e.url}/_emulator/say`, {
      method: "POST",
      body: JSON.stringify({ from: "carol", text: "hi", mentions: ["bridge"] }),
    });
    expect(said.status).toBe(200);
    expect(await said.json()).toMatchObject({ delivered: { pending: true } });
    // No receiver is connected: the event waits in the queue, the delivery stays pending.
    expect(e.queuedEvents()).toBe(1);
    const messages = (await (
      await fetch(`${e.url}/_emulator/messages?chatId=${e.defaultChat}`)
    ).json()) as unknown[];
    expect(messages).toEqual([expect.objectContaining({ senderPerson: "carol", text: "@clawbridge hi" })]);
    await fetch(`${e.url}/_emulator/fault`, {
      method: "POST",
      body: JSON.stringify({ path: "/open-apis/", status: 502 }),
    });
    const faulted = await fetch(`${e.url}/open-apis/bot/v3/info`);
    expect(faulted.status).toBe(502);
    e.clearFaults();
    const noRoute = await fetch(`${e.url}/open-apis/nope/v1/x`, { headers: { authorization: "Bearer x" } });
    expect(noRoute.status).toBe(404);
    const unknown = await fetch(`${e.url}/elsewhere`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 404 });
  });
});
