import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  interpolateEnv,
  interpolateString,
  parseConfigText,
  readEnvFile,
} from "../../../src/config/index.js";
import { failingParse, minimal, tempDir } from "./helpers.js";

const lookupIn = (vars: Record<string, string>) => (name: string) => vars[name];

describe("interpolateString", () => {
  it("replaces several references in one string", () => {
    const result = interpolateString("ws://${HOST}:${PORT}/x", lookupIn({ HOST: "10.0.0.2", PORT: "18789" }));
    expect(result).toEqual({
      text: "ws://10.0.0.2:18789/x",
      used: ["HOST", "PORT"],
      missing: [],
      malformed: [],
    });
  });

  it("reads $${ as a literal ${", () => {
    expect(interpolateString("cost: $${A} and ${A}", lookupIn({ A: "1" })).text).toBe("cost: ${A} and 1");
    expect(interpolateString("$5 and $$", lookupIn({})).text).toBe("$5 and $$");
  });

  it("reports missing variables and malformed references, leaving them as written", () => {
    const result = interpolateString("${A}-${B}-${}-${A-B}-${OPEN", lookupIn({ A: "a" }));
    expect(result.text).toBe("a-${B}-${}-${A-B}-${OPEN");
    expect(result.missing).toEqual(["B"]);
    expect(result.malformed).toEqual(["${}", "${A-B}", "${OPEN"]);
  });

  it("treats a variable set to an empty string as set", () => {
    expect(interpolateString("[${E}]", lookupIn({ E: "" }))).toMatchObject({ text: "[]", missing: [] });
  });
});

describe("interpolateEnv", () => {
  it("interpolates string values only (not keys), without touching the input", () => {
    const tree = { "${K}": "${V}", list: ["${V}", 3, true, null], nested: { deep: "x${V}y" } };
    const copy = structuredClone(tree);
    const result = interpolateEnv(tree, { env: { V: "v", K: "k" } });
    expect(result.value).toEqual({ "${K}": "v", list: ["v", 3, true, null], nested: { deep: "xvy" } });
    expect(tree).toEqual(copy);
  });

  it("takes the real environment first, then the env file", () => {
    const envFile = { path: "/x/.env", found: true, vars: { A: "from-file", B: "from-file" } };
    const result = interpolateEnv({ a: "${A}", b: "${B}" }, { env: { A: "from-env" }, envFile });
    expect(result.value).toEqual({ a: "from-env", b: "from-file" });
  });

  it("lists the secrets: values of secret keys and of secret-named variables", () => {
    const tree = {
      feishu: { appId: "${FEISHU_APP_ID}", appSecret: "${FEISHU_APP_SECRET}" },
      nodes: [{ name: "a", url: "ws://h:1/?k=${GW_TOKEN}", token: "${A}" }],
    };
    const env = {
      FEISHU_APP_ID: "cli_1",
      FEISHU_APP_SECRET: "app-secret",
      GW_TOKEN: "gw-token",
      A: "node-token",
    };
    expect(interpolateEnv(tree, { env }).secrets.sort()).toEqual(["app-secret", "gw-token", "node-token"]);
  });

  it("names the variable, the key, and where the env file is", () => {
    const tree = { nodes: [{ url: "ws://${HOST}:${PORT}" }] };
    const found = interpolateEnv(tree, { env: {}, envFile: { path: "/cfg/.env", found: true, vars: {} } });
    expect(found.missing).toEqual([
      {
        key: "nodes[0].url",
        message: "environment variable HOST is not set",
        fix: "export it, or add HOST=… to /cfg/.env",
      },
      {
        key: "nodes[0].url",
        message: "environment variable PORT is not set",
        fix: "export it, or add PORT=… to /cfg/.env",
      },
    ]);
    const absent = interpolateEnv(tree, { env: {}, envFile: { path: "/cfg/.env", found: false, vars: {} } });
    expect(absent.missing[0]!.fix).toBe(
      "export it, or create /cfg/.env with HOST=… (envFile points there, but the file does not exist)",
    );
  });
});

describe("envFile", () => {
  it("is read relative to the config folder, and the real environment wins", () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "secrets"));
    fs.writeFileSync(
      path.join(dir, "secrets", "bridge.env"),
      '\uFEFF# comment\nFEISHU_APP_SECRET="from-file-secret"\nAI_PC_TOKEN=file-token\nexport_ignored\n',
    );
    const text = minimal(`envFile: "secrets/bridge.env",
      feishu: { appId: "cli_1", appSecret: "\${FEISHU_APP_SECRET}" },
      nodes: [{ name: "ai-pc", url: "ws://10.0.0.2:18789", token: "\${AI_PC_TOKEN}" }]`);
    const { config, secrets } = parseConfigText(text, { env: { AI_PC_TOKEN: "env-token" }, baseDir: dir });
    expect(config.feishu?.appSecret).toBe("from-file-secret");
    expect(config.nodes[0]!.token).toBe("env-token");
    expect(config.envFile).toBe(path.join(dir, "secrets", "bridge.env"));
    expect(secrets.sort()).toEqual(["env-token", "from-file-secret"]);
  });

  it("a missing variable says the env file was found", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, ".env"), "OTHER=1\n");
    const { error } = failingParse(
      minimal('envFile: ".env", feishu: { appId: "a", appSecret: "${FEISHU_APP_SECRET}" }'),
      {
        baseDir: dir,
      },
    );
    expect(error.code).toBe("CB_CONFIG_ENV_MISSING");
    expect(error.issues).toEqual([
      {
        key: "feishu.appSecret",
        message: "environment variable FEISHU_APP_SECRET is not set",
        fix: `export it, or add FEISHU_APP_SECRET=… to ${path.join(dir, ".env")}`,
      },
    ]);
  });

  it("a missing variable says the env file does not exist", () => {
    const dir = tempDir();
    const { error } = failingParse(
      minimal('envFile: ".env", nodes: [{ name: "a", url: "ws://${GW_HOST}:1" }]'),
      {
        baseDir: dir,
      },
    );
    expect(error.issues[0]!.key).toBe("nodes[0].url");
    expect(error.issues[0]!.fix).toBe(
      `export it, or create ${path.join(dir, ".env")} with GW_HOST=… (envFile points there, but the file does not exist)`,
    );
  });

  it("may itself name a variable from the real environment", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "prod.env"), "S=from-prod\n");
    const text = minimal('envFile: "${STAGE}.env", feishu: { appId: "a", appSecret: "${S}" }');
    const { config } = parseConfigText(text, { env: { STAGE: "prod" }, baseDir: dir });
    expect(config.feishu?.appSecret).toBe("from-prod");
  });

  it("an unreadable env file is an issue on envFile", () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "a-folder.env"));
    const { error } = failingParse(minimal('envFile: "a-folder.env"'), { baseDir: dir });
    expect(error.issues.map((issue) => issue.key)).toEqual(["envFile"]);
    expect(error.issues[0]!.message).toContain("EISDIR");
  });

  it("readEnvFile reports a missing file as not found", () => {
    const file = path.join(tempDir(), "nope.env");
    expect(readEnvFile(file)).toEqual({ path: file, found: false, vars: {} });
  });
});
