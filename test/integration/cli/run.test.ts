import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isValidNodeName } from "../../../src/core/index.js";
import { runCli } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";

const env = { LANG: "en_US.UTF-8" };
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A mailbox-only setup: `extra` is JSON5 added at the top level, `nodes` replaces the node list. */
function setup(extra = "", nodes = '{ name: "ai-pc", tags: ["gpu"] }, { name: "nas-agent" }') {
  const dir = path.join(tempDir(), "配置 目录");
  const shared = path.join(dir, "共享 盘");
  mkdirSync(shared, { recursive: true });
  const file = path.join(dir, "clawbridge.json5");
  writeFileSync(
    file,
    `{ mailbox: { root: "./共享 盘" }, state: { dir: "./state" }, nodes: [ ${nodes} ], ${extra} }`,
  );
  return { file, shared };
}

/** The lines of `to-<node>.jsonl` under `shared`, parsed. */
function inbox(shared: string, node: string): Record<string, unknown>[] {
  const file = path.join(shared, "messages", `to-${node}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("clawbridge run", () => {
  it("appends one task envelope with target to the bridge's inbox and says where the result goes", async () => {
    const fx = setup();
    const result = await runCli(
      ["run", "--config", fx.file, "--from", "nas-agent", "AI-PC", "用新数据重新训练分类模型"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    const id = result.stdout.trim();
    expect(id).toMatch(ULID);
    expect(inbox(fx.shared, "clawbridge")).toEqual([
      {
        from: "nas-agent",
        to: "clawbridge",
        type: "task",
        content: "用新数据重新训练分类模型",
        // As the config spells it.
        target: "ai-pc",
        id,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:\d\d)$/),
      },
    ]);
    expect(result.stderr.trim()).toBe(
      `the bridge (clawbridge) will dispatch it to ai-pc and write the result to ${path.join(fx.shared, "messages", "to-nas-agent.jsonl")}`,
    );
    expect(existsSync(path.join(fx.shared, "messages", "to-ai-pc.jsonl"))).toBe(false);
  });

  it("takes a #tag, another mailbox.self, and works without a config (--shared)", async () => {
    const fx = setup('mailbox: { root: "./共享 盘", self: "hub" },');
    const tagged = await runCli(["run", "--config", fx.file, "--from", "ai-pc", "#GPU", "画一只猫"], { env });
    expect(tagged.code, tagged.stderr).toBe(0);
    expect(inbox(fx.shared, "hub")).toEqual([
      expect.objectContaining({
        from: "ai-pc",
        to: "hub",
        type: "task",
        target: "#GPU",
        content: "画一只猫",
      }),
    ]);
    expect(tagged.stderr).toContain("will dispatch it to #GPU");

    const shared = tempDir();
    const bare = await runCli(["run", "--shared", shared, "--from", "office-mac", "#显卡", "hi"], { env });
    expect(bare.code, bare.stderr).toBe(0);
    expect(inbox(shared, "clawbridge")).toEqual([
      expect.objectContaining({ from: "office-mac", to: "clawbridge", type: "task", target: "#显卡" }),
    ]);
    expect(inbox(shared, "clawbridge")[0]!.id).toBe(bare.stdout.trim());
  });

  it("--from defaults to this computer's name when that is a configured node", async () => {
    const host = os.hostname().split(".")[0]!;
    const without = setup();
    const refused = await runCli(["run", "--config", without.file, "ai-pc", "x"], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`no --from given, and this computer's name "${host}" is not a node in`);
    expect(refused.stderr).toContain("fix: pass --from <node>");
    if (!isValidNodeName(host)) return;
    const fx = setup("", `{ name: "ai-pc" }, { name: ${JSON.stringify(host.toUpperCase())} }`);
    const result = await runCli(["run", "--config", fx.file, "ai-pc", "x"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(inbox(fx.shared, "clawbridge")[0]).toMatchObject({ from: host.toUpperCase(), target: "ai-pc" });
  });

  it("refuses what the bridge could not dispatch, with the fix, writing nothing", async () => {
    const fx = setup('access: { agents: ["nas-agent"] },');
    const run = (...args: string[]) => runCli(["run", "--config", fx.file, ...args], { env });
    const [node, tag, empty, bad, self, sender, agent, zh] = await Promise.all([
      run("--from", "nas-agent", "ai-pcc", "x"),
      run("--from", "nas-agent", "#gpuu", "x"),
      run("--from", "nas-agent", "ai-pc", "  "),
      run("--from", "nas-agent", "ai pc", "x"),
      run("--from", "nas-agent", "clawbridge", "x"),
      run("--from", "nas-agnet", "ai-pc", "x"),
      run("--from", "ai-pc", "nas-agent", "x"),
      run("--lang", "zh-CN", "--from", "nas-agent", "gpu", "x"),
    ]);
    for (const result of [node, tag, empty, bad, self, sender, agent, zh]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(node.stderr).toContain('error: "ai-pcc" is neither a node nor a tag in');
    expect(node.stderr).toContain('fix: use one of: ai-pc, nas-agent, #gpu (did you mean "ai-pc"?)');
    expect(tag.stderr).toContain('(did you mean "#gpu"?)');
    expect(empty.stderr).toContain("error: the prompt is empty");
    expect(bad.stderr).toContain('error: "ai pc" is neither a node name nor a #tag');
    expect(self.stderr).toContain('error: "clawbridge" is the bridge itself (mailbox.self), not a node');
    expect(sender.stderr).toContain('error: "nas-agnet" is not a node in');
    expect(sender.stderr).toContain('did you mean "nas-agent"');
    expect(agent.stderr).toContain('error: "ai-pc" may not dispatch tasks: it is not in access.agents of');
    expect(agent.stderr).toContain('fix: add "ai-pc" to access.agents');
    expect(zh.stderr).toMatch(/^错误: “gpu”既不是 .* 中的节点，也不是其中的标签/);
    expect(zh.stderr).toContain("修复: 可用的有：ai-pc, nas-agent, #gpu（是不是想写“#gpu”？）");
    expect(existsSync(path.join(fx.shared, "messages", "to-clawbridge.jsonl"))).toBe(false);
  });

  it("without a config: needs a shared folder, a valid target and a --from that is not the bridge", async () => {
    const shared = tempDir();
    const [noShared, bridge, badFrom, noArgs] = await Promise.all([
      runCli(["run", "--from", "a", "b", "x"], { env, cwd: tempDir() }),
      runCli(["run", "--shared", shared, "--from", "ClawBridge", "ai-pc", "x"], { env }),
      runCli(["run", "--shared", shared, "--from", "user:ou_1", "ai-pc", "x"], { env }),
      runCli(["run", "--shared", shared, "ai-pc"], { env }),
    ]);
    expect(noShared.code).toBe(2);
    expect(noShared.stderr).toContain("error: no shared folder given");
    expect(bridge.code).toBe(2);
    expect(bridge.stderr).toContain('--from "ClawBridge" is the bridge itself');
    expect(badFrom.code).toBe(2);
    expect(badFrom.stderr).toContain('--from "user:ou_1" is not a node name');
    expect(noArgs.code).not.toBe(0);
    expect(noArgs.stderr).toContain("missing required argument 'prompt'");
    expect(existsSync(path.join(shared, "messages", "to-clawbridge.jsonl"))).toBe(false);
  });
});
