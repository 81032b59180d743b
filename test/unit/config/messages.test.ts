import { describe, expect, it } from "vitest";
import { LOCALES } from "../../../src/core/index.js";
import { configMessages } from "../../../src/config/index.js";
import { failingParse, minimal } from "./helpers.js";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("config messages", () => {
  it("exist in zh-CN and en with the same keys, non-empty, with the same placeholders", () => {
    const en = configMessages.catalog.en;
    const zh = configMessages.catalog["zh-CN"];
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const locale of LOCALES) {
      for (const text of Object.values(configMessages.catalog[locale])) expect(text.trim()).not.toBe("");
    }
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect([key, placeholders(zh[key])]).toEqual([key, placeholders(en[key])]);
    }
  });

  it("zh-CN is actually Chinese", () => {
    const chinese = Object.values(configMessages.catalog["zh-CN"]).filter((text) =>
      /[\u4e00-\u9fff]/.test(text),
    );
    // Only words spliced into other texts (" true 或 false" …) may be without Han characters.
    expect(chinese.length).toBeGreaterThan(Object.keys(configMessages.catalog.en).length * 0.9);
  });

  it("every kind of issue is said in Chinese, keys and values unchanged", () => {
    const { lines } = failingParse(
      minimal(`feishu: { appId: "a", appSecret: "literal-secret", mode: "webhook" },
               http: { port: "80a" },
               nodes: [{ name: "ai pc" }, { name: "b", url: "http://b" }, { name: "B", token: "\${MISSING}" }]`),
      { locale: "zh-CN" },
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        "feishu.appSecret: 密钥不能直接写在配置文件里 — 请把它放进环境变量或 envFile，并在此处写 “${FEISHU_APP_SECRET}”",
        "nodes[2].token: 环境变量 MISSING 未设置 — 请 export 它，或设置 envFile（例如 “.env”）并在该文件中添加 MISSING=…",
        'http.port: 应为数字，实际为 "80a" — 请写不带引号的数字，例如 8787',
        'nodes[0].name: "ai pc" 不是合法的节点名 — 请只用字母、数字、“-” 或 “_”（以字母或数字开头，最多 63 个字符）',
        'nodes[1].url: "http://b" 不是网关地址 — 请使用 ws:// 或 wss://，加上网关的主机和端口，例如 “ws://192.168.1.52:18789”',
        'nodes[2].name: "B" 与 nodes[1].name "b" 是同一个名字（名字不区分大小写，SMB 文件名也不区分） — 请给其中一个改名',
      ]),
    );
    expect(lines.find((line) => line.startsWith("feishu.mode: "))).toContain("feishu.encryptKey");
    expect(lines).toHaveLength(7);
  });
});
