import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DeadLetters, RETRY_REQUESTS_DIR } from "../../../src/relay/dead-letters.js";
import { runCli } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";

const env = { LANG: "en_US.UTF-8" };

async function stateWithDeadLetter(): Promise<string> {
  const dir = path.join(tempDir(), "state");
  const letters = new DeadLetters({ stateDir: dir });
  await letters.load();
  await letters.add({
    id: "01JDEAD",
    target: "ai-pc",
    item: {
      id: "01JDEAD",
      payload: {
        kind: "deliver",
        node: "ai-pc",
        sessionKey: "agent:main:clawbridge:from-office-mac",
        mirror: false,
        envelope: {
          id: "01JDEAD",
          from: "office-mac",
          to: "ai-pc",
          timestamp: "t",
          type: "message",
          content: "跑 benchmark",
        },
      },
      enqueuedAt: 0,
      attempts: 3,
    },
    seq: 4,
    failures: 1,
    reason: {
      code: "CB_GATEWAY_REQUEST_FAILED",
      origin: "gateway",
      message: {
        en: "node ai-pc: agent failed: INVALID_REQUEST: unknown agent id",
        "zh-CN": "节点 ai-pc：未知的智能体",
      },
    },
  });
  await letters.close();
  return dir;
}

describe("clawbridge state", () => {
  it("dead-letters lists each with where it was going and why, in the reader's language, or as JSON", async () => {
    const dir = await stateWithDeadLetter();
    const plain = await runCli(["state", "dead-letters", "--state", dir], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain("01JDEAD  → ai-pc");
    expect(plain.stdout).toContain("office-mac → ai-pc: 跑 benchmark");
    expect(plain.stdout).toContain("why: node ai-pc: agent failed: INVALID_REQUEST: unknown agent id");
    expect(plain.stderr).toContain("1 dead letter(s)");

    const zh = await runCli(["state", "dead-letters", "--state", dir, "--lang", "zh-CN"], { env });
    expect(zh.stdout).toContain("原因：节点 ai-pc：未知的智能体");

    const json = await runCli(["state", "dead-letters", "--state", dir, "--json"], { env });
    const [line] = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({
      id: "01JDEAD",
      target: "ai-pc",
      code: "CB_GATEWAY_REQUEST_FAILED",
      origin: "gateway",
    });
  });

  it("retry leaves a request the bridge carries out at its next start; an unknown id gets the fix", async () => {
    const dir = await stateWithDeadLetter();
    const retry = await runCli(["state", "retry", "01JDEAD", "--state", dir], { env });
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain("goes back into the outbox of ai-pc when the bridge next starts");
    expect(readdirSync(path.join(dir, RETRY_REQUESTS_DIR))).toHaveLength(1);

    const unknown = await runCli(["state", "retry", "nope", "--state", dir], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("there is no dead letter nope");
    expect(unknown.stderr).toContain("clawbridge state dead-letters");
    expect(existsSync(path.join(dir, "dead-letters.jsonl"))).toBe(true);
  });

  it("an empty state folder has no dead letters", async () => {
    const result = await runCli(["state", "dead-letters", "--state", tempDir()], { env });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("no dead letters");
  });
});
