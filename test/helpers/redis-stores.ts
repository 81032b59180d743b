import { afterAll, beforeAll } from "vitest";
import { RedisStore } from "../../src/cluster/index.js";
import { startRedis, type RedisServer } from "./redis-server.js";

export interface RedisSuite {
  /** The block's redis-server (started before its first test). */
  readonly redis: RedisServer;
  /** `count` ready connections (`replica-0` …) sharing a fresh key prefix; `url` defaults to the block's server. */
  stores(count: number, url?: string): Promise<RedisStore[]>;
}

/**
 * One redis-server for a describe block and the replicas' connections its tests open. Each
 * `stores` call gets a key prefix of its own (`<prefix>-<n>:`), so the block's tests never
 * see each other's keys; every connection is closed after the block, the server with it.
 */
export function redisSuite(prefix: string): RedisSuite {
  let server: RedisServer | undefined;
  const opened: RedisStore[] = [];
  let prefixes = 0;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  const redis = (): RedisServer => {
    if (!server) throw new Error("redisSuite: the server starts before the block's first test");
    return server;
  };
  return {
    get redis() {
      return redis();
    },
    async stores(count, url) {
      const keyPrefix = `${prefix}-${++prefixes}:`;
      const list = Array.from(
        { length: count },
        (_, i) => new RedisStore({ url: url ?? redis().url, keyPrefix, name: `replica-${i}` }),
      );
      opened.push(...list);
      await Promise.all(list.map((store) => store.ready()));
      return list;
    },
  };
}
