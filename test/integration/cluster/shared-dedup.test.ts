import { describe, expect, it } from "vitest";
import { SharedEventDedup, type SharedEventDedupOptions } from "../../../src/cluster/shared-dedup.js";
import type { EventDedupPort, FeishuAdapter, InboundChatMessage } from "../../../src/feishu/index.js";
import { webhookRequest, type FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuAdapter, feishuEmulator, serveWebhook } from "../../helpers/feishu.js";
import { redisSkipReason } from "../../helpers/redis-server.js";
import { redisSuite } from "../../helpers/redis-stores.js";
import { waitFor } from "../../helpers/wait.js";

// Made-up secret for a loopback test.
const ENCRYPT_KEY = "test-encrypt-key-not-real-7c1e";
const content = { senderId: "ou_sender_made_up", chatId: "oc_chat_made_up", text: "/nodes" };

const skip = redisSkipReason();

describe.skipIf(skip)("SharedEventDedup: Feishu's duplicates caught across replicas", () => {
  const suite = redisSuite("dedup-test");

  /** One replica's dedup per options given, each on its own connection, sharing one fresh key prefix. */
  async function replicas(...options: SharedEventDedupOptions[]): Promise<SharedEventDedup[]> {
    const stores = await suite.stores(options.length);
    return stores.map((store, i) => new SharedEventDedup(store, options[i]));
  }

  it("claims on one replica only; committed, it is a duplicate everywhere, under either id", async () => {
    const [a, b] = await replicas({}, {});
    // The feishu intake's port, satisfied structurally.
    const port: EventDedupPort = a!;
    await port.load();
    const key = { eventId: "ev1", messageId: "om_1", content };
    const [first, second] = await Promise.all([a!.claim(key), b!.claim(key)]);
    expect([first, second].sort()).toEqual(["claimed", "inflight"]);
    const winner = first === "claimed" ? a! : b!;
    await winner.commit(key);
    expect(await a!.claim(key)).toBe("duplicate");
    expect(await b!.claim(key)).toBe("duplicate");
    // The same message under a second event id, and the same event id alone (a card action's shape).
    expect(await b!.claim({ eventId: "ev2", messageId: "om_1" })).toBe("duplicate");
    expect(await a!.claim({ eventId: "ev1" })).toBe("duplicate");
    expect(await b!.claim({ eventId: "ev3", messageId: "om_3" })).toBe("claimed");
  });

  it("lets a released (failed) event, content included, be claimed again on any replica", async () => {
    const [a, b] = await replicas({}, {});
    const key = { eventId: "ev1", messageId: "om_1", content };
    expect(await a!.claim(key)).toBe("claimed");
    expect(await b!.claim(key)).toBe("inflight");
    await a!.release(key);
    expect(await b!.claim(key)).toBe("claimed");
    await b!.commit(key);
    expect(await a!.claim(key)).toBe("duplicate");
  });

  it("drops the same text from the same sender in the same chat under another id within the window", async () => {
    const [a, b] = await replicas({}, {});
    expect(await a!.claim({ eventId: "a", messageId: "om_a", content })).toBe("claimed");
    expect(await b!.claim({ eventId: "b", messageId: "om_b", content })).toBe("duplicate");
    expect(
      await b!.claim({ eventId: "c", messageId: "om_c", content: { ...content, chatId: "oc_other" } }),
    ).toBe("claimed");
    expect(
      await b!.claim({ eventId: "d", messageId: "om_d", content: { ...content, text: "/status" } }),
    ).toBe("claimed");
  });

  it("lets the same text through again once the window has passed", async () => {
    const [a, b] = await replicas({ windowMs: 300 }, {});
    expect(await a!.claim({ eventId: "a", messageId: "om_a", content })).toBe("claimed");
    await a!.commit({ eventId: "a", messageId: "om_a", content });
    // Each try under a new id: a "duplicate" answer leaves nothing behind, so polling is harmless.
    let n = 0;
    await waitFor(
      async () => (await b!.claim({ eventId: `b${++n}`, messageId: `om_b${n}`, content })) === "claimed",
      {
        what: "the content window to expire",
        intervalMs: 50,
      },
    );
  });

  it("hands a crashed claimer's event to the next redelivery once its claim expires, and its late release frees nothing", async () => {
    // The crashed replica's claims hold 1.5 s; the others' the default minute.
    const [crashed, others, survivor] = await replicas({ inflightMs: 1_500 }, {}, {});
    const key = { eventId: "ev1", messageId: "om_1", content };
    expect(await crashed!.claim(key)).toBe("claimed");
    expect(await others!.claim({ eventId: "ev1" })).toBe("inflight");
    await waitFor(async () => (await survivor!.claim(key)) === "claimed", {
      what: "the crashed claim to expire",
      intervalMs: 50,
    });
    // Its content mark still holds for other ids: only the same message may come back.
    expect(await others!.claim({ eventId: "ev9", messageId: "om_9", content })).toBe("duplicate");
    // The claimer was only paused; its release comes late and must not free the survivor's claim.
    await crashed!.release(key);
    expect(await others!.claim(key)).toBe("inflight");
    await survivor!.commit(key);
    expect(await others!.claim(key)).toBe("duplicate");
  });
});

describe.skipIf(skip)("two FeishuAdapters sharing a SharedEventDedup", () => {
  const suite = redisSuite("adapters");

  /** Two replicas' adapters, each with its own state folder and its own Redis connection. */
  async function twoReplicas(emu: FeishuEmulator, webhook: boolean) {
    const stores = await suite.stores(2);
    return Promise.all(
      stores.map(async (store) => {
        const received: InboundChatMessage[] = [];
        const { adapter } = await feishuAdapter(emu, {
          dedup: new SharedEventDedup(store),
          ...(webhook
            ? {
                config: {
                  mode: "webhook" as const,
                  encryptKey: ENCRYPT_KEY,
                  verificationToken: emu.bridge.verificationToken,
                },
              }
            : {}),
        });
        await adapter.start({ onMessage: (m) => void received.push(m) });
        return { adapter, received };
      }),
    );
  }

  const stats = (replicas: { adapter: FeishuAdapter }[]) => {
    const all = replicas.map((r) => r.adapter.health().intakeStats);
    return {
      handled: all.reduce((n, s) => n + s.handled, 0),
      duplicates: all.reduce((n, s) => n + s.duplicates, 0),
      received: all.map((s) => s.received),
    };
  };

  it("long connection: a redelivery that Feishu sends to the other replica is dropped there", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const replicas = await twoReplicas(emu, false);
    await waitFor(() => emu.wsClients() === 2, { what: "both replicas' long connections" });

    // The emulator hands events to the connected clients in turn, as Feishu picks one of them.
    const said = emu.say(emu.defaultChat, wang, "只处理一次", { mentions: ["bridge"] });
    expect(await said.delivered).toMatchObject({ via: "websocket", code: 200 });
    expect(await emu.redeliver(said.eventId).delivered).toMatchObject({ code: 200 });
    expect(await emu.duplicateUnderNewId(said.eventId).delivered).toMatchObject({ code: 200 });

    const all = replicas.flatMap((r) => r.received);
    expect(all.filter((m) => m.messageId === said.messageId)).toHaveLength(1);
    expect(stats(replicas)).toEqual({ handled: 1, duplicates: 2, received: expect.anything() });
    // Both replicas were asked: without the shared store the other would have handled it again.
    expect(stats(replicas).received.every((n) => n >= 1)).toBe(true);
  });

  it("webhook: the same request reaching both replicas at once is handled once", async () => {
    const emu = await feishuEmulator();
    const wang = emu.addPerson({ name: "小王" });
    const replicas = await twoReplicas(emu, true);
    const served = [];
    for (const replica of replicas) served.push(await serveWebhook(emu, replica.adapter, ENCRYPT_KEY));
    try {
      const event = {
        schema: "2.0",
        header: {
          event_id: "ev_made_up_1",
          event_type: "im.message.receive_v1",
          create_time: String(Date.now()),
          token: emu.bridge.verificationToken,
          app_id: emu.bridge.appId,
          tenant_key: "t",
        },
        event: {
          sender: { sender_id: { open_id: "ou_made_up_sender" }, sender_type: "user" },
          message: {
            message_id: "om_made_up_1",
            chat_id: emu.defaultChat,
            chat_type: "group",
            message_type: "text",
            content: JSON.stringify({ text: "两个副本都收到" }),
          },
        },
      };
      const request = webhookRequest({ payload: event, encryptKey: ENCRYPT_KEY });
      const statuses = await Promise.all(
        served.map(async ({ base }) => {
          const response = await fetch(`${base}/feishu/events`, {
            method: "POST",
            headers: request.headers,
            body: request.body,
          });
          return response.status;
        }),
      );
      expect(statuses).toEqual([200, 200]);
      // The loser saw it done, or in flight and then (its retry) done.
      await waitFor(() => stats(replicas).handled === 1 && stats(replicas).duplicates >= 1, {
        what: () => `one handled, one duplicate: ${JSON.stringify(stats(replicas))}`,
      });
      const all = () => replicas.flatMap((r) => r.received);
      expect(all().map((m) => m.messageId)).toEqual(["om_made_up_1"]);

      // Through the emulator: the event goes to the second replica, Feishu's retry to the first.
      const said = emu.say(emu.defaultChat, wang, "重试去了另一个副本", { mentions: ["bridge"] });
      await said.delivered;
      await waitFor(() => all().some((m) => m.messageId === said.messageId), { what: "the message" });
      emu.useWebhook({
        eventsUrl: `${served[0]!.base}/feishu/events`,
        encryptKey: ENCRYPT_KEY,
        verificationToken: emu.bridge.verificationToken,
      });
      const before = stats(replicas).duplicates;
      await emu.redeliver(said.eventId).delivered;
      await emu.duplicateUnderNewId(said.eventId).delivered;
      await waitFor(() => stats(replicas).duplicates >= before + 2, { what: "both duplicates dropped" });
      expect(all().filter((m) => m.messageId === said.messageId)).toHaveLength(1);
      expect(stats(replicas).handled).toBe(2);
    } finally {
      for (const { close } of served) await close();
    }
  });
});
