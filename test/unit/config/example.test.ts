import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import JSON5 from "json5";
import { describe, expect, it } from "vitest";
import { findLiteralSecrets, listSchemaKeys, parseConfigText } from "../../../src/config/index.js";
import { configErrorOf, tempDir } from "./helpers.js";

const EXAMPLE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../config/clawbridge.example.json5",
);
const text = fs.readFileSync(EXAMPLE, "utf8");

/** Every `${NAME}` the example references, each given a fake value. */
function fakeEnv(): Record<string, string> {
  const names = [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  // A URL variable gets a value of the URL's form (the schema checks the scheme).
  return Object.fromEntries(
    names.map((name) => [
      name,
      name.endsWith("REDIS_URL") ? `redis://:fake@127.0.0.1:6379/0` : `fake-${name.toLowerCase()}`,
    ]),
  );
}

/** Dotted keys present in a parsed tree, list items as `[]` (the form `listSchemaKeys` uses). */
function presentKeys(tree: unknown, prefix = "", out = new Set<string>()): Set<string> {
  if (Array.isArray(tree)) {
    for (const item of tree) presentKeys(item, `${prefix}[]`, out);
  } else if (typeof tree === "object" && tree !== null) {
    for (const [name, child] of Object.entries(tree)) {
      const key = prefix ? `${prefix}.${name}` : name;
      out.add(key);
      presentKeys(child, key, out);
    }
  }
  return out;
}

describe("config/clawbridge.example.json5", () => {
  it("parses, given every variable it references", () => {
    const env = fakeEnv();
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(["FEISHU_APP_ID", "FEISHU_APP_SECRET", "AI_PC_TOKEN"]),
    );
    const { config, secrets } = parseConfigText(text, { env, baseDir: tempDir(), sourceName: EXAMPLE });
    expect(config.mailbox.root).toBe("/mnt/openclaw-shared");
    expect(config.nodes.map((node) => node.name)).toEqual(["ai-pc", "nas-agent"]);
    expect(config.nodes[0]!.token).toBe("fake-ai_pc_token");
    expect(config.feishu?.appSecret).toBe("fake-feishu_app_secret");
    expect(secrets).toEqual(expect.arrayContaining(["fake-feishu_app_secret", "fake-ai_pc_token"]));
    expect(secrets).not.toContain("fake-feishu_app_id");
  });

  it("starts in long-connection mode without the webhook secrets' variables (a copy just works)", () => {
    const env = fakeEnv();
    delete env.FEISHU_ENCRYPT_KEY;
    delete env.FEISHU_VERIFICATION_TOKEN;
    const { config } = parseConfigText(text, { env, baseDir: tempDir(), sourceName: EXAMPLE });
    expect(config.feishu?.mode).toBe("websocket");
    expect(config.feishu).not.toHaveProperty("encryptKey");
    expect(config.feishu).not.toHaveProperty("verificationToken");
  });

  it("in webhook mode, the same missing variables are an error naming each one", () => {
    const env = fakeEnv();
    delete env.FEISHU_ENCRYPT_KEY;
    delete env.FEISHU_VERIFICATION_TOKEN;
    const webhook = text.replace('mode: "websocket"', 'mode: "webhook"');
    expect(webhook).not.toBe(text);
    const error = configErrorOf(() =>
      parseConfigText(webhook, { env, baseDir: tempDir(), sourceName: EXAMPLE }),
    );
    expect(error.code).toBe("CB_CONFIG_ENV_MISSING");
    expect(error.issues.map((issue) => issue.key)).toEqual(["feishu.encryptKey", "feishu.verificationToken"]);
    expect(error.message).toContain("FEISHU_ENCRYPT_KEY");
  });

  it("contains every key of the schema", () => {
    const present = presentKeys(JSON5.parse(text));
    const schemaKeys = listSchemaKeys().map((entry) => entry.key);
    // Guards the walk itself: a broken walk that found nothing would pass vacuously.
    expect(schemaKeys.length).toBeGreaterThan(50);
    expect(schemaKeys).toEqual(
      expect.arrayContaining(["nodes[].bot.hearsBots", "relay.budget.cooldownSeconds"]),
    );
    expect(schemaKeys.filter((key) => !present.has(key))).toEqual([]);
  });

  it("contains no key the schema does not know", () => {
    const known = new Set(listSchemaKeys().map((entry) => entry.key));
    expect([...presentKeys(JSON5.parse(text))].filter((key) => !known.has(key))).toEqual([]);
  });

  it("comments every key", () => {
    const lines = text.split("\n");
    const names = new Set(listSchemaKeys().map((entry) => entry.key.split(".").at(-1)!));
    const uncommented = [...names].filter(
      (name) =>
        !lines.some(
          (line, i) =>
            new RegExp(`(^|[{\\s])${name}:`).test(line) &&
            (line.includes("//") || (lines[i - 1] ?? "").trim().startsWith("//")),
        ),
    );
    expect(uncommented).toEqual([]);
  });

  it("writes every secret as a ${VAR} reference", () => {
    expect(findLiteralSecrets(JSON5.parse(text))).toEqual([]);
  });

  it("describes every key in the schema (the schema is the reference)", () => {
    expect(listSchemaKeys().filter((entry) => !entry.description)).toEqual([]);
  });
});
