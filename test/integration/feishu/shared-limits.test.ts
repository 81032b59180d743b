import { describe, expect, it } from "vitest";
import type { RedisStore } from "../../../src/cluster/redis-client.js";
import { SharedRateLimiter } from "../../../src/cluster/rate-limiter.js";
import type { FeishuAdapter, OutboundLimits } from "../../../src/feishu/index.js";
import type { FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuAdapter, feishuEmulator } from "../../helpers/feishu.js";
import { redisSkipReason, startRedis } from "../../helpers/redis-server.js";
import { redisSuite } from "../../helpers/redis-stores.js";
import { waitFor } from "../../helpers/wait.js";

const MESSAGES = "/open-apis/im/v1/messages";
/** Feishu's answer to a chat over its 5 sends per second, and to an app over its quota. */
const CHAT_LIMITED = 230020;
const APP_LIMITED = 99991400;

const skip = redisSkipReason();

// Several bridge replicas in front of one Feishu (the emulator enforces its limits and says
// when they are exceeded): the shared windows keep them together within one app's budget.
describe.skipIf(skip)("Feishu rate limits shared by replicas through Redis", () => {
  const suite = redisSuite("shared-limits");

  type Replica = Awaited<ReturnType<typeof feishuAdapter>> & { store?: RedisStore };

  /** `count` adapters on one emulator; each with its own Redis connection when `url` is given. */
  async function replicas(
    emu: FeishuEmulator,
    count: number,
    options: { url?: string; limits?: Partial<OutboundLimits> } = {},
  ): Promise<Replica[]> {
    const stores = options.url ? await suite.stores(count, options.url) : [];
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const store = stores[i];
        const replica = await feishuAdapter(emu, {
          limits: options.limits,
          ...(store ? { sharedLimits: new SharedRateLimiter(store) } : {}),
        });
        return { ...replica, store };
      }),
    );
  }

  /** Every replica sends `perChat` texts to each chat at once; resolves when all are posted. */
  function burst(adapters: FeishuAdapter[], chats: string[], perChat: number) {
    return Promise.all(
      adapters.flatMap((adapter, r) =>
        chats.flatMap((chatId) =>
          Array.from({ length: perChat }, (_, n) =>
            adapter.outbound.send({ chatId, content: { kind: "text", text: `r${r} ${chatId} #${n}` } }),
          ),
        ),
      ),
    );
  }

  const posts = (emu: FeishuEmulator) => emu.callsTo(MESSAGES).filter((c) => c.method === "POST");

  it("keeps two replicas bursting into one chat within its per-chat limit together", async () => {
    const emu = await feishuEmulator();
    const replicaList = await replicas(emu, 2, { url: suite.redis.url });
    const adapters = replicaList.map((r) => r.adapter);
    const chat = emu.defaultChat;
    await burst(adapters, [chat], 10);

    expect(posts(emu).filter((c) => c.code !== 0)).toEqual([]);
    const arrivals = posts(emu)
      .map((c) => c.at)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(20);
    for (const [i, start] of arrivals.entries()) {
      expect(arrivals.slice(i).filter((at) => at < start + 1000).length).toBeLessThanOrEqual(5);
    }
    // Each replica's own order holds, and they did hold back for each other.
    const texts = emu.messages(chat).map((m) => m.text);
    for (const r of [0, 1]) {
      expect(texts.filter((t) => t?.startsWith(`r${r} `))).toEqual(
        Array.from({ length: 10 }, (_, n) => `r${r} ${chat} #${n}`),
      );
    }
    const stats = adapters.map((a) => a.outbound.stats());
    expect(stats.reduce((sum, s) => sum + s.sharedLimitWaits, 0)).toBeGreaterThan(0);
    expect(stats.map((s) => s.rateLimited)).toEqual([0, 0]);
  });

  it("goes over the per-chat limit without them (the control: each replica spends it all)", async () => {
    const emu = await feishuEmulator();
    const adapters = (await replicas(emu, 2)).map((r) => r.adapter);
    await burst(adapters, [emu.defaultChat], 6);
    expect(posts(emu).filter((c) => c.code === CHAT_LIMITED).length).toBeGreaterThan(0);
    expect(emu.messages(emu.defaultChat)).toHaveLength(12);
  });

  it("keeps the app-wide limit across replicas and chats", async () => {
    const appQps = 6;
    const emu = await feishuEmulator({ limits: { appQps } });
    const chats = [
      emu.defaultChat,
      emu.createChat({ members: ["bridge"] }),
      emu.createChat({ members: ["bridge"] }),
    ];
    const adapters = (await replicas(emu, 2, { url: suite.redis.url, limits: { appQps } })).map(
      (r) => r.adapter,
    );
    await burst(adapters, chats, 3);
    expect(emu.calls.filter((c) => c.code === APP_LIMITED || c.code === CHAT_LIMITED)).toEqual([]);
    for (const chatId of chats) expect(emu.messages(chatId)).toHaveLength(6);
  });

  it("posts every message by each replica's own limits when Redis stops mid-burst", async () => {
    const own = await startRedis();
    const emu = await feishuEmulator();
    const replicaList = await replicas(emu, 2, { url: own.url });
    try {
      const chat = emu.defaultChat;
      const sending = burst(
        replicaList.map((r) => r.adapter),
        [chat],
        12,
      );
      await waitFor(() => emu.messages(chat).length >= 4, { what: "the burst to start" });
      await own.stop();
      await sending;

      const texts = emu.messages(chat).map((m) => m.text);
      expect(texts).toHaveLength(24);
      expect(new Set(texts).size).toBe(24);
      for (const { adapter, sink } of replicaList) {
        expect(adapter.outbound.stats().sharedLimitBypassed).toBeGreaterThan(0);
        // One warning per outage, not one per message.
        const warnings = sink
          .records()
          .filter((r) => String(r.msg).startsWith("shared Feishu rate limits unavailable"));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatchObject({ level: 40 });
      }
    } finally {
      // QUIT would wait for the Redis that is gone.
      for (const { store } of replicaList) store?.client.disconnect();
    }
  });
});
