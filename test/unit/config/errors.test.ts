import { describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import { ConfigError, parseConfigText } from "../../../src/config/index.js";
import { configErrorOf, failingParse, minimal, tempDir } from "./helpers.js";

const NODE_NAME_FIX = 'use letters, digits, "-" or "_"';

describe("config errors name the dotted key and the fix", () => {
  it("a bad node name", () => {
    const { error, lines } = failingParse(minimal('nodes: [{ name: "ok" }, { name: "ai pc" }]'));
    expect(error.code).toBe("CB_CONFIG_INVALID");
    expect(error.issues).toHaveLength(1);
    expect(lines[0]).toMatch(/^nodes\[1\]\.name: "ai pc" is not a valid node name — /);
    expect(lines[0]).toContain(`— ${NODE_NAME_FIX}`);
  });

  it("a bad mailbox.self uses the node-name rule too", () => {
    const { lines } = failingParse('{ mailbox: { root: "x", self: "my bridge" } }');
    expect(lines[0]).toMatch(/^mailbox\.self: "my bridge" is not a valid node name — use letters/);
  });

  it("duplicate node names, ignoring case", () => {
    const { error, lines } = failingParse(
      minimal('nodes: [{ name: "ai-pc" }, { name: "nas" }, { name: "AI-PC" }, { name: "Nas" }]'),
    );
    expect(lines).toEqual([
      'nodes[2].name: "AI-PC" is the same name as nodes[0].name "ai-pc" (names ignore case, SMB file names do) — rename one of them',
      'nodes[3].name: "Nas" is the same name as nodes[1].name "nas" (names ignore case, SMB file names do) — rename one of them',
    ]);
    expect(error.issues.map((issue) => issue.key)).toEqual(["nodes[2].name", "nodes[3].name"]);
  });

  it("a node named like mailbox.self (reserved), ignoring case", () => {
    const first = failingParse(minimal('nodes: [{ name: "ClawBridge" }]'));
    expect(first.lines).toEqual([
      `nodes[0].name: "ClawBridge" is reserved: it is mailbox.self, the bridge's own name — rename the node, or set mailbox.self to another name`,
    ]);
    const custom = failingParse(
      '{ mailbox: { root: "x", self: "hub" }, nodes: [{ name: "ok" }, { name: "HUB" }] }',
    );
    expect(custom.error.issues.map((issue) => issue.key)).toEqual(["nodes[1].name"]);
    // With self renamed, "clawbridge" is an ordinary node name.
    expect(() =>
      parseConfigText('{ mailbox: { root: "x", self: "hub" }, nodes: [{ name: "clawbridge" }] }', {
        env: {},
        baseDir: tempDir(),
      }),
    ).not.toThrow();
  });

  it("a secret written literally, without echoing it", () => {
    const { error, lines } = failingParse(
      minimal(`feishu: { appId: "cli_x", appSecret: "hunter2-app-secret" },
               nodes: [{ name: "ai-pc", url: "ws://10.0.0.2:18789", token: "tok-literal-123" }]`),
    );
    expect(lines).toEqual([
      'feishu.appSecret: a secret must not be written in the config file — put it in the environment or in the envFile and write "${FEISHU_APP_SECRET}"',
      'nodes[0].token: a secret must not be written in the config file — put it in the environment or in the envFile and write "${AI_PC_TOKEN}"',
    ]);
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("tok-literal");
  });

  it("a secret with text around its reference is still literal; $${ is literal too", () => {
    const { error } = failingParse(
      minimal(`feishu: { appId: "a", appSecret: "pre-\${X}", encryptKey: "$\${KEY}" }`),
      { env: { X: "x" } },
    );
    expect(error.issues.map((issue) => issue.key)).toEqual(["feishu.appSecret", "feishu.encryptKey"]);
    expect(error.issues[1]!.fix).toContain('"${FEISHU_ENCRYPT_KEY}"');
  });

  it("a secret with a broken reference is reported as such, not as a literal", () => {
    const { error } = failingParse(minimal('feishu: { appId: "a", appSecret: "${FEISHU_APP_SECRET" }'));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.key).toBe("feishu.appSecret");
    expect(error.issues[0]!.message).toContain(
      "${FEISHU_APP_SECRET, which is not a valid variable reference",
    );
    expect(error.issues[0]!.fix).toContain("$${");
  });

  it("a file that is not an object", () => {
    expect(failingParse("[]").lines).toEqual([
      "(root): expected an object { … }, got a list — write an object { … }",
    ]);
  });

  it("a missing environment variable names the variable and the key", () => {
    const { error, lines } = failingParse(
      minimal('feishu: { appId: "cli_x", appSecret: "${FEISHU_APP_SECRET}" }'),
    );
    expect(error.code).toBe("CB_CONFIG_ENV_MISSING");
    expect(lines).toEqual([
      'feishu.appSecret: environment variable FEISHU_APP_SECRET is not set — export it, or set envFile (e.g. ".env") and add FEISHU_APP_SECRET=… to that file',
    ]);
  });

  it("an unknown key, with the closest known key", () => {
    const { lines } = failingParse('{ mailbox: { root: "x", pollMS: 500 } }');
    expect(lines).toEqual(['mailbox.pollMS: unknown key — did you mean "pollMs"?']);
  });

  it("an unknown key far from any known key lists the keys allowed there", () => {
    const { lines } = failingParse(minimal('http: { hots: "0.0.0.0", colour: "red" }'));
    expect(lines).toEqual([
      'http.hots: unknown key — did you mean "host"?',
      "http.colour: unknown key — remove it (keys allowed here: host, port)",
    ]);
  });

  it("unknown keys inside list items and at the top level", () => {
    const { error } = failingParse(minimal('nodes: [{ name: "a", tokne: "${T}" }], mailboxes: {}'), {
      env: { T: "t" },
    });
    expect(error.issues.map((issue) => [issue.key, issue.fix])).toEqual([
      ["nodes[0].tokne", 'did you mean "token"?'],
      ["mailboxes", 'did you mean "mailbox"?'],
    ]);
  });

  it("a wrong type says what was expected and what was found", () => {
    const { lines } = failingParse(
      minimal('http: { port: "80a" }, relay: { mirrorToChat: "yes" }, nodes: {}'),
    );
    expect(lines).toEqual([
      'http.port: expected a number, got "80a" — write a plain number without quotes, e.g. 8787',
      'nodes: expected a list [ … ], got an object — write a list, e.g. ["a", "b"] or []',
      'relay.mirrorToChat: expected true or false, got "yes" — write true or false without quotes',
    ]);
  });

  it("numbers out of range or not whole give the whole range", () => {
    const { lines } = failingParse(
      '{ mailbox: { root: "x", pollMs: 10, lockStaleMs: 1500.5 }, http: { port: 70000 } }',
    );
    expect(lines).toEqual([
      "http.port: 70000 is above the maximum 65535 — use a whole number from 0 to 65535",
      "mailbox.pollMs: 10 is below the minimum 50 — use a whole number from 50 to 600000",
      "mailbox.lockStaleMs: expected a whole number, got 1500.5 — write a whole number without quotes",
    ]);
  });

  it("a missing required key and a value outside an enum", () => {
    const { lines } = failingParse('{ mailbox: {}, log: { level: "verbose" } }');
    expect(lines).toEqual([
      "mailbox.root: is required — add it (see config/clawbridge.example.json5)",
      'log.level: "verbose" is not one of the allowed values — use one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
    ]);
  });

  it("webhook mode needs encryptKey or verificationToken", () => {
    const { lines } = failingParse(minimal('feishu: { appId: "a", appSecret: "${S}", mode: "webhook" }'), {
      env: { S: "secret-value" },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^feishu\.mode: "webhook" mode needs/);
    expect(lines[0]!.split(" — ")[1]).toContain("feishu.encryptKey or feishu.verificationToken");
    const ok = minimal(
      'feishu: { appId: "a", appSecret: "${S}", mode: "webhook", verificationToken: "${V}" }',
    );
    expect(() =>
      parseConfigText(ok, { env: { S: "secret-value", V: "verify" }, baseDir: tempDir() }),
    ).not.toThrow();
  });

  it("a gateway url that is not ws:// or wss://, or not a URL at all", () => {
    const { lines } = failingParse(
      minimal('nodes: [{ name: "a", url: "http://10.0.0.2:18789" }, { name: "b", url: "ws//b:1" }]'),
    );
    expect(lines).toEqual([
      'nodes[0].url: "http://10.0.0.2:18789" is not a gateway URL — use ws:// or wss:// with the gateway\'s host and port, e.g. "ws://192.168.1.52:18789"',
      'nodes[1].url: "ws//b:1" is not a valid URL — use ws:// or wss:// with the gateway\'s host and port, e.g. "ws://192.168.1.52:18789"',
    ]);
  });

  it("a token without url, equal ports, ids with the wrong prefix, a bad domain", () => {
    const { error } = failingParse(
      minimal(`nodes: [{ name: "a", token: "\${T}", bot: { unionId: "ou_x" } }],
               http: { port: 9000 }, ops: { port: 9000 },
               feishu: { appId: "a", appSecret: "\${T}", domain: "larksuite", chats: ["oc_1", "chat2"] },
               relay: { auditChat: "ou_1" }, access: { dispatchers: ["on_1"] }`),
      { env: { T: "token-value" } },
    );
    expect(error.issues.map((issue) => `${issue.key}: ${issue.message}`)).toEqual([
      'feishu.domain: "larksuite" is neither "feishu", "lark" nor an http(s) URL',
      'feishu.chats[1]: "chat2" does not start with "oc_"',
      'nodes[0].bot.unionId: "ou_x" does not start with "on_"',
      'relay.auditChat: "ou_1" does not start with "oc_"',
      'access.dispatchers[0]: "on_1" does not start with "ou_"',
      "nodes[0].token: a token without url is never used",
      "ops.port: 9000 is also http.port",
    ]);
    expect(error.issues.every((issue) => issue.fix.length > 0)).toBe(true);
  });

  it('access.agents: each entry is "*" or a configured node, ignoring case', () => {
    const { lines } = failingParse(
      minimal(`nodes: [{ name: "ai-pc" }, { name: "nas-agent" }],
               access: { agents: ["*", "AI-PC", "ai-cp", "office-mac", "clawbridge"] }`),
    );
    expect(lines).toEqual([
      'access.agents[2]: "ai-cp" is neither "*" nor the name of a node in nodes — did you mean "ai-pc"? (or write "*" for every configured node)',
      'access.agents[3]: "office-mac" is neither "*" nor the name of a node in nodes — write a node name from nodes (ai-pc, nas-agent), or "*" for every configured node',
      'access.agents[4]: "clawbridge" is neither "*" nor the name of a node in nodes — write a node name from nodes (ai-pc, nas-agent), or "*" for every configured node',
    ]);
    const none = failingParse(minimal('access: { agents: ["ai-pc"] }'));
    expect(none.lines).toEqual([
      'access.agents[0]: "ai-pc" is neither "*" nor the name of a node in nodes — add the node to nodes first, or write "*" for every configured node',
    ]);
    const zh = failingParse(minimal('nodes: [{ name: "ai-pc" }], access: { agents: ["ai-pcc"] }'), {
      locale: "zh-CN",
    });
    expect(zh.lines).toEqual([
      'access.agents[0]: "ai-pcc" 既不是 “*”，也不是 nodes 中节点的名字 — 是否想写 “ai-pc”？（写 “*” 表示所有已配置的节点）',
    ]);
    const ok = parseConfigText(minimal('nodes: [{ name: "ai-pc" }], access: { agents: ["Ai-Pc", "*"] }'), {
      env: {},
      baseDir: tempDir(),
    });
    expect(ok.config.access.agents).toEqual(["Ai-Pc", "*"]);
    // A wrong type is said once, by the schema; an empty list is allowed (no agent may dispatch).
    expect(failingParse(minimal("access: { agents: [1] }")).lines).toEqual([
      'access.agents[0]: expected a string, got 1 — write it as text in quotes, e.g. "…"',
    ]);
    expect(
      parseConfigText(minimal("access: { agents: [] }"), { env: {}, baseDir: tempDir() }).config.access
        .agents,
    ).toEqual([]);
  });

  it("a JSON5 syntax error gives line and column", () => {
    const error = configErrorOf(() =>
      parseConfigText('{\n  mailbox: { root: "x" },\n  http: { port: 80 \n  ops: {}\n}', {
        env: {},
        sourceName: "/etc/clawbridge.json5",
      }),
    );
    expect(error.code).toBe("CB_CONFIG_SYNTAX");
    expect(error.message).toMatch(/^\/etc\/clawbridge\.json5:4:3: JSON5 syntax error: /);
    expect(error.details).toMatchObject({ line: 4, column: 3 });
    expect(error.fix).toContain("line 4, column 3");
  });

  it("reports every issue at once, cross-key rules included", () => {
    const { error } = failingParse(
      `{
        feishu: { appId: "a", appSecret: "literal-secret", mode: "webhook" },
        http: { port: "80a" },
        nodes: [{ name: "ai pc" }, { name: "x", maxConcurrent: 1.5 }, { name: "X" }],
        mailbox: { pollMS: 5 },
        relay: { maxHops: 99 },
        tasks: { timeoutMs: "\${TIMEOUT}" },
      }`,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe("CB_CONFIG_INVALID");
    expect(error.issues.map((issue) => issue.key).sort()).toEqual(
      [
        "feishu.appSecret",
        "feishu.mode",
        "http.port",
        "mailbox.pollMS",
        "mailbox.root",
        "nodes[0].name",
        "nodes[1].maxConcurrent",
        "nodes[2].name",
        "relay.maxHops",
        "tasks.timeoutMs",
      ].sort(),
    );
    // The missing variable is the one thing said about tasks.timeoutMs ("${TIMEOUT}" is no number, but that is noise).
    expect(error.issues.filter((issue) => issue.key === "tasks.timeoutMs")).toHaveLength(1);
    // The message lists every issue, one per line, after a summary.
    expect(error.message.split("\n")).toHaveLength(11);
    expect(error.message.split("\n")[0]).toContain("10 problem(s)");
  });

  it("never quotes a secret that came from the environment", () => {
    const { error } = failingParse(
      minimal('nodes: [{ name: "a", url: "http://h:1/?auth=${GATEWAY_TOKEN}" }]'),
      {
        env: { GATEWAY_TOKEN: "very-secret-gateway-token" },
      },
    );
    expect(error.issues[0]!.key).toBe("nodes[0].url");
    expect(error.message).not.toContain("very-secret-gateway-token");
    expect(error.message).toContain("[REDACTED]");
  });

  it("is a ClawbridgeError users may see, with a fix", () => {
    const { error } = failingParse(minimal("http: { port: -1 }"));
    expect(isClawbridgeError(error, "CB_CONFIG_INVALID")).toBe(true);
    expect(error.expose).toBe(true);
    expect(error.retryable).toBe(false);
    expect(error.fix).toBe("use a whole number from 0 to 65535");
    expect(error.describe()).toContain("http.port: -1 is below the minimum 0");
  });
});
