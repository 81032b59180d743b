import { describe, expect, it } from "vitest";
import { RedisStore } from "../../../src/cluster/index.js";
import type { GatewayClient, ObservedEvent } from "../../../src/gateway/index.js";
import { RemoteGatewayClient } from "../../../src/replica/index.js";
import { ObservedPublisher } from "../../../src/replica/observed-stream.js";
import { fakeGateway, gatewayClient } from "../../helpers/gateway.js";
import { redisSkipReason, startRedis } from "../../helpers/redis-server.js";
import { waitFor } from "../../helpers/wait.js";

const skip = redisSkipReason();

// `/watch <node>` on the replica running the task layer shows what the node's agent says,
// which only the replica holding the node's link sees: it is copied through Redis while
// someone watches, and not at all otherwise (the link is not even observed then).

describe.skipIf(skip)("observed events for /watch through Redis", () => {
  it("reach a remote observer while it watches, filtered as asked; nothing is written when nobody does", async () => {
    const redis = await startRedis();
    const stores: RedisStore[] = [];
    const connect = async (name: string) => {
      const store = new RedisStore({ url: redis.url, keyPrefix: "obs:", name });
      stores.push(store);
      await store.ready();
      return store;
    };
    const fake = await fakeGateway({ script: { kind: "text", text: "done here", chunks: 2, delayMs: 5 } });
    const { client } = await gatewayClient(fake.url);
    await client.ready(5_000);
    const owner = await connect("owner");
    // The link's observers, counted: each one makes the link build every chat event of every run.
    let observing = 0;
    const counted: GatewayClient = Object.assign(Object.create(client) as GatewayClient, {
      observe: (...args: Parameters<GatewayClient["observe"]>) => {
        observing++;
        const off = client.observe(...args);
        return () => {
          observing--;
          off();
        };
      },
    });
    const publisher = new ObservedPublisher({ store: owner, node: "ai-pc", gateway: counted });
    publisher.start();
    const remote = new RemoteGatewayClient({ store: await connect("tasks"), node: "ai-pc" });
    try {
      // Nobody watches: a run leaves no copy.
      await client.runAgent({ sessionKey: "agent:main:main", prompt: "first", idempotencyKey: "obs-1" })
        .result;
      expect(await owner.client.exists("obs:gateway:ai-pc:observed")).toBe(0);
      expect(observing).toBe(0);

      const finals: ObservedEvent[] = [];
      const all: ObservedEvent[] = [];
      const offFinals = remote.observe((event) => finals.push(event), { kind: "chat", states: ["final"] });
      const offAll = remote.observe((event) => all.push(event));
      // The publisher notices the watch within its look interval (2 s): runs until it shows.
      await waitFor(async () => (await owner.client.pttl("obs:gateway:ai-pc:watched")) > 0 || undefined);
      for (let n = 2; n < 12 && finals.length === 0; n++) {
        await client.runAgent({
          sessionKey: "agent:main:main",
          prompt: `run ${n}`,
          idempotencyKey: `obs-${n}`,
        }).result;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await waitFor(() => finals.length > 0 || undefined, { what: "the final event at the remote" });
      expect(observing).toBe(1);
      expect(finals.every((e) => e.state === "final" && e.kind === "chat")).toBe(true);
      expect(finals.at(-1)).toMatchObject({ node: "ai-pc", sessionKey: "agent:main:main" });
      expect(finals.at(-1)!.text).toContain("done here");
      expect(all.some((e) => e.state === "delta")).toBe(true);
      offFinals();
      offAll();
    } finally {
      publisher.stop();
      await remote.stop();
      await client.stop();
      for (const store of stores) await store.close();
    }
  });
});
