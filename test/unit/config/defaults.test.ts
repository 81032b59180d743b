import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema, parseConfigText } from "../../../src/config/index.js";
import { minimal, tempDir } from "./helpers.js";

describe("defaults", () => {
  it("fills every defaulted key from the smallest config", () => {
    const dir = tempDir();
    const { config, secrets } = parseConfigText(minimal(), { env: {}, baseDir: dir });
    expect(config).toEqual({
      http: { host: "127.0.0.1", port: 8787 },
      ops: { host: "127.0.0.1", port: 9464 },
      nodes: [],
      mailbox: {
        root: path.join(dir, "shared"),
        self: "clawbridge",
        watch: "auto",
        pollMs: 1000,
        maxLineBytes: 1_048_576,
        lockStaleMs: 10_000,
      },
      relay: {
        maxHops: 4,
        mirrorToChat: true,
        budget: { perPairPerMinute: 20, cooldownSeconds: 60 },
        outboxPerNode: 1000,
        runTimeoutMs: 600_000,
      },
      tasks: { timeoutMs: 1_800_000, maxQueued: 100 },
      access: { dispatchers: [], admins: [], agents: ["*"] },
      state: { dir: path.join(dir, ".clawbridge"), store: "file" },
      log: { level: "info" },
    });
    expect(config.feishu).toBeUndefined();
    expect(config.envFile).toBeUndefined();
    expect(secrets).toEqual([]);
  });

  it("fills a node's and the feishu section's defaults", () => {
    const text = minimal(`
      feishu: { appId: "cli_x", appSecret: "\${SECRET}" },
      nodes: [{ name: "ai-pc", bot: {} }],
      relay: { budget: { cooldownSeconds: 5 } },`);
    const { config } = parseConfigText(text, { env: { SECRET: "s3cr3t-value" }, baseDir: tempDir() });
    expect(config.feishu).toEqual({
      appId: "cli_x",
      appSecret: "s3cr3t-value",
      domain: "feishu",
      mode: "websocket",
      chats: [],
      locale: "zh-CN",
    });
    expect(config.nodes).toEqual([
      { name: "ai-pc", tags: [], maxConcurrent: 1, agentId: "main", bot: { hearsBots: false } },
    ]);
    // A partly written section keeps its other defaults.
    expect(config.relay.budget).toEqual({ perPairPerMinute: 20, cooldownSeconds: 5 });
  });

  it("gives each parse its own default lists", () => {
    const a = configSchema.parse({ mailbox: { root: "/x" } });
    const b = configSchema.parse({ mailbox: { root: "/x" } });
    a.nodes.push({ name: "x", tags: [], maxConcurrent: 1, agentId: "main" });
    a.access.admins.push("ou_x");
    a.access.agents.push("x");
    expect(b.nodes).toEqual([]);
    expect(b.access.admins).toEqual([]);
    expect(b.access.agents).toEqual(["*"]);
  });

  it("accepts port 0 for both listeners (any free port)", () => {
    const { config } = parseConfigText(minimal("http: { port: 0 }, ops: { port: 0 }"), {
      env: {},
      baseDir: tempDir(),
    });
    expect([config.http.port, config.ops.port]).toEqual([0, 0]);
  });
});
