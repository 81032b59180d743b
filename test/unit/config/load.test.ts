import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_FILE_CANDIDATES, findConfigFile, loadConfig } from "../../../src/config/index.js";
import { configErrorOf, tempDir } from "./helpers.js";

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

const VALID = `// a comment, JSON5 style
{
  mailbox: { root: "shared", },
  state: { dir: "../state" },
  envFile: ".env",
  feishu: { appId: "cli_1", appSecret: "\${FEISHU_APP_SECRET}" },
}`;

describe("loadConfig", () => {
  it("reads a file and resolves relative paths against its folder, not the cwd", () => {
    const dir = tempDir();
    const file = write(path.join(dir, "conf", "clawbridge.json5"), VALID);
    write(path.join(dir, "conf", ".env"), "FEISHU_APP_SECRET=from-env-file\n");
    const loaded = loadConfig({ path: file, env: {}, cwd: "/" });
    expect(loaded.path).toBe(file);
    expect(loaded.config.mailbox.root).toBe(path.join(dir, "conf", "shared"));
    expect(loaded.config.state.dir).toBe(path.join(dir, "state"));
    expect(loaded.config.envFile).toBe(path.join(dir, "conf", ".env"));
    expect(loaded.config.feishu?.appSecret).toBe("from-env-file");
    expect(loaded.secrets).toEqual(["from-env-file"]);
  });

  it("resolves a relative config path against cwd and keeps absolute paths as written", () => {
    const dir = tempDir();
    write(path.join(dir, "c.json5"), '{ mailbox: { root: "/srv/share" }, state: { dir: "/var/lib/cb" } }');
    const loaded = loadConfig({ path: "c.json5", env: {}, cwd: dir });
    expect(loaded.path).toBe(path.join(dir, "c.json5"));
    expect(loaded.config.mailbox.root).toBe("/srv/share");
    expect(loaded.config.state.dir).toBe("/var/lib/cb");
  });

  it("strips a UTF-8 BOM (Windows editors write one)", () => {
    const dir = tempDir();
    const file = write(path.join(dir, "c.json5"), '\uFEFF{ mailbox: { root: "x" } }');
    expect(loadConfig({ path: file, env: {} }).config.mailbox.self).toBe("clawbridge");
  });

  it("works from a folder with Chinese characters and spaces", () => {
    const dir = tempDir("配置 文件 ");
    const folder = path.join(dir, "我的 配置");
    const file = write(
      path.join(folder, "clawbridge.json5"),
      '{ mailbox: { root: "共享 文件夹" }, nodes: [{ name: "ai-pc", displayName: "AI电脑" }] }',
    );
    const { config } = loadConfig({ path: file, env: {} });
    expect(config.mailbox.root).toBe(path.join(folder, "共享 文件夹"));
    expect(config.state.dir).toBe(path.join(folder, ".clawbridge"));
    expect(config.nodes[0]!.displayName).toBe("AI电脑");
  });

  it("names the file in a syntax error", () => {
    const dir = tempDir();
    const file = write(path.join(dir, "bad.json5"), '{\n  mailbox: { root: "x" }\n  log: {}\n}');
    const error = configErrorOf(() => loadConfig({ path: file, env: {} }));
    expect(error.code).toBe("CB_CONFIG_SYNTAX");
    expect(error.message.startsWith(`${file}:3:3: `)).toBe(true);
    expect(error.path).toBe(file);
  });

  it("a missing explicit path is CB_CONFIG_NOT_FOUND, pointing at the example", () => {
    const file = path.join(tempDir(), "nope.json5");
    const error = configErrorOf(() => loadConfig({ path: file, env: {} }));
    expect(error.code).toBe("CB_CONFIG_NOT_FOUND");
    expect(error.message).toContain(file);
    expect(error.fix).toContain("config/clawbridge.example.json5");
  });

  it("no path and nothing found is CB_CONFIG_NOT_FOUND too", () => {
    const error = configErrorOf(() => loadConfig({ env: {}, cwd: tempDir() }));
    expect(error.code).toBe("CB_CONFIG_NOT_FOUND");
    expect(error.fix).toContain("config/clawbridge.example.json5");
  });

  it("a folder given as the config file is CB_CONFIG_UNREADABLE", () => {
    const error = configErrorOf(() => loadConfig({ path: tempDir(), env: {} }));
    expect(error.code).toBe("CB_CONFIG_UNREADABLE");
    expect(error.message).toContain("EISDIR");
  });

  it("speaks Chinese when asked", () => {
    const dir = tempDir();
    const file = write(path.join(dir, "c.json5"), '{ mailbox: { root: "x", pollMS: 1 } }');
    const error = configErrorOf(() => loadConfig({ path: file, env: {}, locale: "zh-CN" }));
    expect(error.issues).toEqual([
      { key: "mailbox.pollMS", message: "未知的键", fix: "是否想写 “pollMs”？" },
    ]);
    expect(error.message).toContain("配置中有 1 个问题");
  });
});

describe("findConfigFile", () => {
  it("prefers CLAWBRIDGE_CONFIG, even when the file is missing (an explicit choice fails loudly)", () => {
    const dir = tempDir();
    write(path.join(dir, "clawbridge.json5"), "{}");
    expect(findConfigFile({ cwd: dir, env: { CLAWBRIDGE_CONFIG: "other.json5" } })).toBe(
      path.join(dir, "other.json5"),
    );
  });

  it("looks for ./clawbridge.json5, ./clawbridge.json, ./config/clawbridge.json5 in that order", () => {
    expect(CONFIG_FILE_CANDIDATES).toEqual([
      "clawbridge.json5",
      "clawbridge.json",
      "config/clawbridge.json5",
    ]);
    const dir = tempDir();
    expect(findConfigFile({ cwd: dir, env: {} })).toBeUndefined();
    write(path.join(dir, "config", "clawbridge.json5"), "{}");
    expect(findConfigFile({ cwd: dir, env: {} })).toBe(path.join(dir, "config", "clawbridge.json5"));
    write(path.join(dir, "clawbridge.json"), "{}");
    expect(findConfigFile({ cwd: dir, env: {} })).toBe(path.join(dir, "clawbridge.json"));
    write(path.join(dir, "clawbridge.json5"), "{}");
    expect(findConfigFile({ cwd: dir, env: {} })).toBe(path.join(dir, "clawbridge.json5"));
  });

  it("never picks the example file, nor a folder with a candidate's name", () => {
    const dir = tempDir();
    write(path.join(dir, "config", "clawbridge.example.json5"), "{}");
    fs.mkdirSync(path.join(dir, "clawbridge.json5"));
    expect(findConfigFile({ cwd: dir, env: {} })).toBeUndefined();
  });
});
