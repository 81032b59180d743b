import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startBridge, type RunningBridge } from "../../../src/app.js";
import { loadConfig } from "../../../src/config/index.js";
import { bridgeWorld, type BridgeWorld } from "../../helpers/bridge.js";
import { testLogger } from "../../helpers/feishu.js";
import { redisSkipReason, startRedis } from "../../helpers/redis-server.js";
import { runCli } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";
import { agentRuns, appendLine, command, finalMessage, inbox } from "../tasks/lifecycle-kit.js";

const skip = redisSkipReason();

const ALL_ROLES = ["chat", "folder", "inboxes", "node:ai-pc", "node:office-mac", "tasks"];

/** The world's config with the Redis store and a state folder of the replica's own. */
function replicaConfig(world: BridgeWorld, name: string): string {
  const raw = JSON.parse(readFileSync(world.configPath, "utf8")) as { state: Record<string, unknown> };
  raw.state = {
    dir: path.join(tempDir(`clawbridge-${name}-`), "state"),
    store: "redis",
    redis: { url: "${CLAWBRIDGE_REDIS_URL}", leaseMs: 1_500, claimIdleMs: 300 },
  };
  const file = path.join(path.dirname(world.configPath), `${name}.json5`);
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

const logs: { name: string; text: () => string }[] = [];

async function startReplica(world: BridgeWorld, file: string, redisUrl: string): Promise<RunningBridge> {
  const loaded = loadConfig({ path: file, env: { ...world.env, CLAWBRIDGE_REDIS_URL: redisUrl } });
  const { logger, sink } = testLogger([world.emu.bridge.appSecret]);
  logs.push({ name: path.basename(file), text: sink.text });
  return startBridge(loaded, { logger });
}

describe.skipIf(skip)("two replicas on the Redis store", () => {
  it("share the roles, relay a group message, a mailbox line and a task each exactly once", async () => {
    const redis = await startRedis();
    const world = await bridgeWorld();
    const replicas: RunningBridge[] = [];
    try {
      for (const name of ["r1", "r2"]) {
        replicas.push(await startReplica(world, replicaConfig(world, name), redis.url));
      }
      // The first replica started with every role; the second takes its share: in the end
      // every role is held by exactly one of the two, and both hold some.
      await waitFor(
        () => {
          const held = replicas.flatMap((r) => r.replica!.roles()).sort();
          const spread = replicas.every((r) => r.replica!.roles().length >= 2);
          return spread && JSON.stringify(held) === JSON.stringify(ALL_ROLES) ? held : undefined;
        },
        { what: "the roles spread over both replicas", timeoutMs: 15_000 },
      );
      // The folder's reader and the inboxes' writer are never one replica while there are two.
      const folderHolder = replicas.findIndex((r) => r.replica!.roles().includes("folder"));
      const inboxesHolder = replicas.findIndex((r) => r.replica!.roles().includes("inboxes"));
      expect(folderHolder).not.toBe(inboxesHolder);

      // A mailbox line from the mailbox-only node to a gateway node.
      appendLine(world, "ai-pc", {
        id: "01JREPLICA0000000000000001",
        from: "nas-agent",
        to: "ai-pc",
        type: "message",
        content: "hello from the NAS",
        timestamp: new Date().toISOString(),
      });
      await waitFor(() => agentRuns(world, "ai-pc").find((r) => r.message.includes("hello from the NAS")), {
        what: "the mailbox line delivered to ai-pc",
        timeoutMs: 15_000,
      });

      // A task from the group, through whichever replica Feishu hands the event to.
      const said = command(world, world.wang, "/run office-mac 看一下日志");
      const final = await waitFor(() => finalMessage(world, said), {
        what: "the task's final message",
        timeoutMs: 20_000,
      });
      expect(final).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(agentRuns(world, "ai-pc").filter((r) => r.message.includes("hello from the NAS"))).toHaveLength(
        1,
      );
      expect(agentRuns(world, "office-mac").filter((r) => r.message.includes("看一下日志"))).toHaveLength(1);
      expect(inbox(world, "ai-pc").filter((l) => l.id === "01JREPLICA0000000000000001")).toHaveLength(1);
    } catch (error) {
      if (process.env.REPLICA_LOGS) {
        for (const log of logs) writeFileSync(`/tmp/${log.name}.log`, log.text());
        const { Redis } = await import("ioredis");
        const client = new Redis(redis.url);
        const keys = await client.keys("*");
        const dump: Record<string, unknown> = {};
        for (const key of keys) {
          const type = await client.type(key);
          dump[key] =
            type === "stream" ? await client.xlen(key) : type === "string" ? await client.get(key) : type;
        }
        writeFileSync("/tmp/replica-redis.json", JSON.stringify(dump, null, 2));
        client.disconnect();
      }
      throw error;
    } finally {
      for (const replica of replicas) await replica.stop(5_000);
    }
  });
});

describe.skipIf(skip)("clawbridge doctor with the Redis store", () => {
  it("says whether Redis answers and lists the replicas with host, roles and last heartbeat", async () => {
    const redis = await startRedis();
    const world = await bridgeWorld();
    const file = replicaConfig(world, "r1");
    const env = { LANG: "en_US.UTF-8", ...world.env, CLAWBRIDGE_REDIS_URL: redis.url };
    const replica = await startReplica(world, file, redis.url);
    try {
      const result = await runCli(["doctor", "--config", file, "--json"], { env });
      const checks = (
        JSON.parse(result.stdout) as { checks: { id: string; level: string; message: string }[] }
      ).checks;
      expect(checks.find((c) => c.id === "redis.connect")).toMatchObject({ level: "ok" });
      const listed = checks.find((c) => c.id === `redis.replica.${replica.replica!.id}`);
      expect(listed?.level).toBe("ok");
      expect(listed?.message).toMatch(
        /^replica \S+: alive on .+ \(pid \d+, .+\), roles: chat, folder, inboxes, node:ai-pc, node:office-mac, tasks; last heartbeat \d+ s ago$/,
      );
      // The URL carries the password: never printed.
      expect(result.stdout).not.toContain(redis.url);
    } finally {
      await replica.stop(5_000);
    }
    // Redis gone: a failing check with the fix, exit code 1.
    await redis.stop();
    const down = await runCli(["doctor", "--config", file, "--json"], { env });
    const connect = (
      JSON.parse(down.stdout) as { checks: { id: string; level: string; fix?: string }[] }
    ).checks.find((c) => c.id === "redis.connect");
    expect(connect).toMatchObject({ level: "fail" });
    expect(connect?.fix).toContain("rediss://");
    expect(down.code).toBe(1);
  });
});

describe.skipIf(skip)("clawbridge state dead-letters with the Redis store", () => {
  it("lists the dead letters every replica recorded in Redis", async () => {
    const redis = await startRedis();
    const world = await bridgeWorld();
    const file = replicaConfig(world, "r1");
    const env = { LANG: "en_US.UTF-8", ...world.env, CLAWBRIDGE_REDIS_URL: redis.url };
    const { Redis } = await import("ioredis");
    const client = new Redis(redis.url);
    try {
      const letter = {
        op: "dead",
        id: "01JDEADLETTER000000000000001",
        target: "ai-pc",
        item: {
          id: "01JDEADLETTER000000000000001",
          payload: { kind: "deliver" },
          enqueuedAt: 1,
          attempts: 3,
        },
        seq: 7,
        failures: 3,
        reason: {
          code: "CB_GATEWAY_REQUEST_FAILED",
          origin: "gateway",
          message: { en: "refused", "zh-CN": "被拒绝" },
        },
        at: Date.now(),
      };
      await client.rpush("clawbridge:journal:dead-letters", JSON.stringify(letter));
      const result = await runCli(["state", "dead-letters", "--config", file, "--json"], { env });
      expect(result.code).toBe(0);
      const listed = result.stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: string; target: string });
      expect(listed).toEqual([expect.objectContaining({ id: letter.id, target: "ai-pc" })]);
    } finally {
      client.disconnect();
    }
  });
});
