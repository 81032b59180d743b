import * as lark from "@larksuiteoapi/node-sdk";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { BridgeInfo, FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuEmulator, larkClient, quietLarkLogger } from "../../helpers/feishu.js";
import { waitFor } from "../../helpers/wait.js";

// Loose view of what the SDK hands a handler (header and event fields flattened).
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const clients: lark.WSClient[] = [];

// Runs before the emulator helper's own clean-up closes the emulator (hooks run as a stack).
afterEach(() => {
  for (const c of clients.splice(0)) c.close({ force: true });
});

/** A real SDK long-connection client; records what its handlers received. */
function connect(
  e: FeishuEmulator,
  handlers: Record<string, (data: Json) => unknown> = {},
  creds: BridgeInfo = e.bridge,
  extra: { onError?: (error: Error) => void } = {},
): { received: Json[]; ws: lark.WSClient } {
  const received: Json[] = [];
  const ws = new lark.WSClient({
    appId: creds.appId,
    appSecret: creds.appSecret,
    domain: e.url,
    logger: quietLarkLogger,
    loggerLevel: lark.LoggerLevel.error,
    ...extra,
  });
  clients.push(ws);
  const dispatcher = new lark.EventDispatcher({
    logger: quietLarkLogger,
    loggerLevel: lark.LoggerLevel.error,
  });
  const wrap = (name: string) => async (data: Json) => {
    received.push(data);
    return handlers[name]?.(data);
  };
  dispatcher.register({
    "im.message.receive_v1": wrap("im.message.receive_v1"),
    "card.action.trigger": wrap("card.action.trigger"),
  } as never);
  void ws.start({ eventDispatcher: dispatcher });
  return { received, ws };
}

describe("feishu emulator: long connection", () => {
  it("delivers a text event to the SDK and resolves with its ack", async () => {
    const e = await feishuEmulator();
    const { received } = connect(e, { "im.message.receive_v1": () => ({ seen: true }) });
    await waitFor(() => e.wsClients() === 1, { what: "the SDK to connect" });
    const alice = e.addPerson({ name: "alice" });
    const emitted = e.say(e.defaultChat, alice, "hello", { mentions: ["bridge"] });
    const result = await emitted.delivered;
    expect(result).toMatchObject({ via: "websocket", code: 200, data: { seen: true } });
    expect(received).toHaveLength(1);
    const event = received[0]!;
    expect(event).toMatchObject({
      event_id: emitted.eventId,
      event_type: "im.message.receive_v1",
      app_id: e.bridge.appId,
      token: e.bridge.verificationToken,
      sender: {
        sender_type: "user",
        sender_id: {
          open_id: alice.openIdFor(e.bridge.appId),
          union_id: alice.unionId,
          user_id: alice.userId,
        },
      },
      message: {
        message_id: emitted.messageId,
        chat_id: e.defaultChat,
        chat_type: "group",
        message_type: "text",
      },
    });
    expect(JSON.parse(event.message.content)).toEqual({ text: "@_user_1 hello" });
    expect(event.message.mentions).toEqual([
      expect.objectContaining({
        key: "@_user_1",
        name: "clawbridge",
        id: expect.objectContaining({ open_id: e.bridge.botOpenId }),
      }),
    ]);
    expect(e.events(e.bridge.appId)[0]?.result).toMatchObject({ code: 200 });
  });

  it("splits large payloads into multi-part frames that the SDK reassembles", async () => {
    const e = await feishuEmulator({ fragmentBytes: 64 });
    const { received } = connect(e);
    await waitFor(() => e.wsClients() === 1, { what: "the SDK to connect" });
    const text = "多段消息 ".repeat(40);
    const emitted = e.say(e.defaultChat, e.addPerson({ name: "bob" }), text);
    expect((await emitted.delivered).via).toBe("websocket");
    expect(JSON.parse(received[0]!.message.content).text).toBe(text);
    const parts = e.wsFrames.filter((f) => f.dir === "out" && f.headers.type === "event");
    expect(parts.length).toBeGreaterThan(3);
    expect(new Set(parts.map((f) => f.headers.sum))).toEqual(new Set([String(parts.length)]));
    // An explicit part count works without fragmentBytes as well.
    const second = e.say(e.defaultChat, e.principal("bob")!, "two", { parts: 2 });
    expect(await second.delivered).toMatchObject({ code: 200 });
  });

  it("answers pings with a pong carrying ClientConfig, and the SDK follows its PingInterval", async () => {
    const e = await feishuEmulator({ pingIntervalSec: 1, reconnectIntervalSec: 2 });
    connect(e);
    const pong = await waitFor(() => e.wsFrames.find((f) => f.dir === "out" && f.headers.type === "pong"), {
      what: "a pong",
    });
    expect(pong.method).toBe(0);
    expect(JSON.parse(pong.payload!)).toEqual({
      PingInterval: 1,
      ReconnectCount: -1,
      ReconnectInterval: 2,
      ReconnectNonce: 0,
    });
    await waitFor(() => e.wsFrames.filter((f) => f.dir === "in" && f.headers.type === "ping").length >= 2, {
      what: "a second ping after 1 s",
    });
  });

  it("queues events while disconnected and flushes them in order after the SDK reconnects", async () => {
    const e = await feishuEmulator({ reconnectIntervalSec: 1 });
    const { received } = connect(e);
    await waitFor(() => e.wsClients() === 1, { what: "the SDK to connect" });
    // The first reconnect attempt fails, so the SDK waits ReconnectInterval (1 s) and the
    // events below surely find no client.
    e.fault({ path: "/callback/ws/endpoint", status: 503 });
    e.dropLongConnections();
    await waitFor(() => e.wsClients() === 0, { what: "the drop" });
    const dave = e.addPerson({ name: "dave" });
    const first = e.say(e.defaultChat, dave, "one");
    const second = e.say(e.defaultChat, dave, "two");
    expect(e.queuedEvents()).toBe(2);
    expect(await first.delivered).toMatchObject({ via: "websocket", code: 200 });
    expect(await second.delivered).toMatchObject({ via: "websocket", code: 200 });
    expect(received.map((r) => JSON.parse(r.message.content).text)).toEqual(["one", "two"]);
    expect(e.callsTo("/callback/ws/endpoint").map((c) => c.status)).toEqual([200, 503, 200]);
  });

  it("queues events emitted before any client started", async () => {
    const e = await feishuEmulator();
    const emitted = e.say(e.defaultChat, e.addPerson({ name: "erin" }), "early");
    const { received } = connect(e);
    expect(await emitted.delivered).toMatchObject({ code: 200 });
    expect(received).toHaveLength(1);
  });

  it("refuses a WebSocket with an unknown device_id", async () => {
    const e = await feishuEmulator();
    const ws = new WebSocket(`${e.url.replace("http", "ws")}/ws?fpid=1&device_id=bogus&service_id=1`);
    const status = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => undefined);
    });
    ws.terminate();
    expect(status).toBe(403);
  });

  it("refuses bad credentials at the endpoint so the SDK gives up (onError)", async () => {
    const e = await feishuEmulator();
    const errors: Error[] = [];
    connect(
      e,
      {},
      { ...e.bridge, appSecret: "definitely-wrong" },
      { onError: (error) => errors.push(error) },
    );
    await waitFor(() => errors.length === 1, { what: "onError" });
    expect(errors[0]!.message).toContain("code=514");
    expect(e.callsTo("/callback/ws/endpoint")).toHaveLength(1);
    expect(e.wsClients()).toBe(0);
  });

  it("delivers card clicks and form submits; the answer's toast and card take effect", async () => {
    const e = await feishuEmulator();
    const { received } = connect(e, {
      "card.action.trigger": (data) => ({
        toast: { type: "success", content: `ok ${data.action.value?.choice ?? "form"}` },
        card: { type: "raw", data: { elements: [{ tag: "markdown", content: "approved" }] } },
      }),
    });
    await waitFor(() => e.wsClients() === 1, { what: "the SDK to connect" });
    const sent = await larkClient(e).im.v1.message.create({
      params: { receive_id_type: "chat_id" },
      data: {
        receive_id: e.defaultChat,
        msg_type: "interactive",
        content: JSON.stringify({ config: { update_multi: true }, elements: [{ tag: "button" }] }),
      },
    });
    const messageId = sent.data!.message_id!;
    const alice = e.addPerson({ name: "alice" });
    const click = e.clickCard(messageId, alice, { choice: "approve" }, { name: "approve_btn" });
    const result = await click.delivered;
    expect(result).toMatchObject({
      via: "websocket",
      code: 200,
      data: { toast: { type: "success", content: "ok approve" } },
    });
    expect(e.lastToast).toEqual({ type: "success", content: "ok approve" });
    expect(e.message(messageId)?.content).toEqual({ elements: [{ tag: "markdown", content: "approved" }] });
    expect(e.message(messageId)?.patches).toEqual([expect.objectContaining({ via: "callback" })]);
    expect(received[0]).toMatchObject({
      event_type: "card.action.trigger",
      operator: { open_id: alice.openIdFor(e.bridge.appId), union_id: alice.unionId },
      action: { tag: "button", name: "approve_btn", value: { choice: "approve" } },
      host: "im_message",
      context: { open_message_id: messageId, open_chat_id: e.defaultChat },
    });
    expect(received[0]!.token).toMatch(/^c-/);

    const form = e.submitForm(messageId, alice, { reason: "looks good" }, { name: "submit" });
    expect(await form.delivered).toMatchObject({ data: { toast: { content: "ok form" } } });
    expect(received[1]!.action.form_value).toEqual({ reason: "looks good" });
  });

  it("redelivers under the same event_id, and duplicates the message under a new one", async () => {
    const e = await feishuEmulator();
    const { received } = connect(e);
    const first = e.say(e.defaultChat, e.addPerson({ name: "frank" }), "once");
    await first.delivered;
    await e.redeliver(first.eventId).delivered;
    const dup = e.duplicateUnderNewId(first.eventId);
    await dup.delivered;
    expect(received.map((r) => r.event_id)).toEqual([first.eventId, first.eventId, dup.eventId]);
    expect(dup.eventId).not.toBe(first.eventId);
    expect(new Set(received.map((r) => r.message.message_id))).toEqual(new Set([first.messageId]));
    expect(e.messages()).toHaveLength(1);
  });
});

describe("feishu emulator: who receives what", () => {
  it("delivers another bot's message only when it @mentions the bridge (includeBotAtMsg)", async () => {
    const e = await feishuEmulator();
    const node = e.addBot({ name: "node-a" });
    e.addMembers(e.defaultChat, [node]);
    const { received } = connect(e);
    const quietBot = e.say(e.defaultChat, node, "talking to myself");
    expect(await quietBot.delivered).toMatchObject({ via: "none" });
    const atBridge = e.say(e.defaultChat, node, "ping", { mentions: ["bridge"] });
    expect(await atBridge.delivered).toMatchObject({ via: "websocket", code: 200 });
    expect(received).toHaveLength(1);
    expect(received[0]!.sender).toMatchObject({
      sender_type: "bot",
      sender_id: { open_id: node.openIdFor(e.bridge.appId), union_id: node.unionId },
    });
    // The foreign open_id is not the one the node's own app uses: match by union_id.
    expect(received[0]!.sender.sender_id.open_id).not.toBe(node.openIdFor(node.appId));
    e.setScopes({ includeBotAtMsg: false });
    expect(await e.say(e.defaultChat, node, "again", { mentions: ["bridge"] }).delivered).toMatchObject({
      via: "none",
    });
  });

  it("without groupMsg only @mentions reach the bridge", async () => {
    const e = await feishuEmulator({ apps: [{ scopes: { groupMsg: false } }] });
    const { received } = connect(e);
    const gina = e.addPerson({ name: "gina" });
    expect(await e.say(e.defaultChat, gina, "chatter").delivered).toMatchObject({ via: "none" });
    expect(await e.say(e.defaultChat, gina, "hey", { mentions: ["bridge"] }).delivered).toMatchObject({
      code: 200,
    });
    expect(received).toHaveLength(1);
  });

  it("never echoes the bridge's own messages; a node's app hears a bridge message that @mentions its bot", async () => {
    const e = await feishuEmulator();
    const node = e.addBot({ name: "node-b" });
    e.addMembers(e.defaultChat, [node]);
    const bridgeSide = connect(e);
    const nodeSide = connect(e, {}, e.appInfo(node.appId));
    await waitFor(() => e.wsClients() === 2, { what: "both SDK clients" });
    const atNode = `<at user_id="${node.openIdFor(e.bridge.appId)}">node-b</at> please summarize`;
    const sent = await larkClient(e).im.v1.message.create({
      params: { receive_id_type: "chat_id" },
      data: { receive_id: e.defaultChat, msg_type: "text", content: JSON.stringify({ text: atNode }) },
    });
    const heard = await waitFor(() => nodeSide.received[0], { what: "the node's app to hear the bridge" });
    expect(heard.message.message_id).toBe(sent.data!.message_id);
    expect(JSON.parse(heard.message.content)).toEqual({ text: "@_user_1 please summarize" });
    expect(heard.message.mentions[0].id.open_id).toBe(node.openIdFor(node.appId));
    expect(heard.sender).toMatchObject({
      sender_type: "bot",
      sender_id: { open_id: e.bridgeBot.openIdFor(node.appId) },
    });
    expect(e.events(e.bridge.appId)).toHaveLength(0);
    expect(bridgeSide.received).toHaveLength(0);
  });

  it("delivers posts, images and files in Feishu's receive format", async () => {
    const e = await feishuEmulator();
    const { received } = connect(e);
    const hana = e.addPerson({ name: "hana" });
    await e.sayPost(e.defaultChat, hana, {
      title: "plan",
      paragraphs: [
        [
          { tag: "at", who: "bridge" },
          { tag: "text", text: " run " },
          { tag: "a", text: "doc", href: "https://x" },
        ],
      ],
    }).delivered;
    await e.sendImage(e.defaultChat, hana).delivered;
    await e.sendFile(e.defaultChat, hana, "report.pdf").delivered;
    const [post, image, file] = received.map((r) => ({
      type: r.message.message_type,
      content: JSON.parse(r.message.content),
    }));
    expect(post).toEqual({
      type: "post",
      content: {
        title: "plan",
        content: [
          [
            { tag: "at", user_id: "@_user_1", user_name: "clawbridge" },
            { tag: "text", text: " run " },
            { tag: "a", text: "doc", href: "https://x" },
          ],
        ],
      },
    });
    expect(received[0]!.message.mentions[0].id.open_id).toBe(e.bridge.botOpenId);
    expect(image).toEqual({ type: "image", content: { image_key: expect.stringMatching(/^img_v2_/) } });
    expect(file).toEqual({
      type: "file",
      content: { file_key: expect.stringMatching(/^file_v2_/), file_name: "report.pdf" },
    });
  });
});
