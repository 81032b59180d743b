import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Envelope } from "../../../src/core/index.js";
import { parseEnvelopeLine } from "../../../src/mailbox/index.js";
import { startMailboxAgent, type MailboxAgent } from "../../../src/sim/mailbox-agent.js";
import { memoryStore, sharedFixture } from "../../helpers/mailbox.js";
import { sleep, waitFor } from "../../helpers/wait.js";

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const agents: MailboxAgent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
});

async function world(options: { delayMs?: number; fromStart?: boolean } = {}, before?: (f: Fixture) => void) {
  const fixture = sharedFixture();
  before?.(fixture);
  const agent = await startMailboxAgent({ root: fixture.root, node: "nas-agent", pollMs: 20, ...options });
  agents.push(agent);
  /** The envelopes in one inbox, as the bridge's reader parses them. */
  const lines = (node: string): Envelope[] => {
    const file = fixture.inbox(node);
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const parsed = parseEnvelopeLine(line, `to-${node}.jsonl`);
        if (parsed.kind !== "envelope") throw new Error(`not an envelope: ${line}`);
        return parsed.envelope;
      });
  };
  const send = (envelope: Record<string, unknown>) =>
    fixture.write(
      "nas-agent",
      `${JSON.stringify({ to: "nas-agent", timestamp: "2026-02-14T18:40:00+08:00", type: "message", ...envelope })}\n`,
    );
  return { ...fixture, agent, lines, send };
}
type Fixture = ReturnType<typeof sharedFixture>;

describe("the simulated mailbox agent", () => {
  it("answers a line from the bridge exactly once, in the bridge's inbox, with replyTo", async () => {
    const w = await world();
    w.send({
      from: "clawbridge",
      id: "01JBRIDGE0000000000000000A",
      content: "请汇报 NAS 的磁盘使用情况 please",
    });
    const [answer] = await waitFor(() =>
      w.lines("clawbridge").length > 0 ? w.lines("clawbridge") : undefined,
    );
    expect(answer).toMatchObject({
      from: "nas-agent",
      to: "clawbridge",
      type: "message",
      replyTo: "01JBRIDGE0000000000000000A",
      content: "nas-agent 已处理 / handled: 请汇报 NAS 的磁盘使用情况 please",
    });
    expect(answer!.id).toMatch(ULID);
    expect(answer!.timestamp).toMatch(WITH_OFFSET);
    expect(answer!.taskId).toBeUndefined();
    await sleep(150);
    expect(w.lines("clawbridge")).toHaveLength(1);
    expect(w.agent.answered()).toBe(1);
  });

  it("a task gets a result carrying its taskId; a person's envelope is answered to the bridge", async () => {
    const w = await world();
    w.send({
      from: "user:ou_alice",
      type: "task",
      id: "t-env-1",
      taskId: "T-42",
      content: "整理相册 sort the photos",
    });
    const [result] = await waitFor(() =>
      w.lines("clawbridge").length > 0 ? w.lines("clawbridge") : undefined,
    );
    expect(result).toMatchObject({
      from: "nas-agent",
      to: "clawbridge",
      type: "result",
      taskId: "T-42",
      replyTo: "t-env-1",
    });
  });

  it("answers another node in that node's own inbox; a seed line without id gets the id the bridge derives", async () => {
    const w = await world();
    w.send({ from: "ai-pc", content: "你好，我是A实例，收到请回复" });
    const [answer] = await waitFor(() => (w.lines("ai-pc").length > 0 ? w.lines("ai-pc") : undefined));
    const [asked] = w.lines("nas-agent");
    expect(answer).toMatchObject({ from: "nas-agent", to: "ai-pc", type: "message", replyTo: asked!.id });
    expect(w.lines("clawbridge")).toHaveLength(0);
  });

  it("ignores delivered lines, its own lines, lines for others and broken lines; a line counts once it ends", async () => {
    const w = await world();
    w.send({ from: "clawbridge", id: "d1", content: "mirrored", source: "clawbridge", delivered: "gateway" });
    w.send({ from: "nas-agent", id: "own1", content: "my own note" });
    w.send({ from: "clawbridge", to: "ai-pc", id: "else1", content: "for someone else" });
    w.write("nas-agent", "this is not json\n");
    w.write("nas-agent", '{"from":"clawbridge","to":"nas-agent","timestamp":"2026-02-14T18:40:00+08:00",');
    await sleep(150);
    expect(w.agent.answered()).toBe(0);
    w.write("nas-agent", '"type":"message","content":"finally whole","id":"late1"}\n');
    await waitFor(() => w.agent.answered() === 1, { what: "the answer to the completed line" });
    await sleep(100);
    expect(w.lines("clawbridge").map((e) => e.replyTo)).toEqual(["late1"]);
    expect(w.lines("ai-pc")).toHaveLength(0);
  });

  it("starts at the end of the inbox unless fromStart", async () => {
    const old = (f: Fixture) =>
      f.write(
        "nas-agent",
        `${JSON.stringify({ from: "clawbridge", to: "nas-agent", timestamp: "2026-02-14T18:40:00+08:00", type: "message", content: "old", id: "old1" })}\n`,
      );
    const fromEnd = await world({}, old);
    fromEnd.send({ from: "clawbridge", id: "new1", content: "new" });
    await waitFor(() => fromEnd.agent.answered() === 1);
    await sleep(100);
    expect(fromEnd.lines("clawbridge").map((e) => e.replyTo)).toEqual(["new1"]);

    const fromStart = await world({ fromStart: true }, old);
    await waitFor(() => fromStart.agent.answered() === 1);
    expect(fromStart.lines("clawbridge").map((e) => e.replyTo)).toEqual(["old1"]);
  });

  it("answers in order after delayMs, its lines whole among the bridge's own locked writes", async () => {
    const w = await world({ delayMs: 30 });
    const store = memoryStore(w.root, w.stateDir);
    for (let i = 0; i < 5; i++) w.send({ from: "clawbridge", id: `m${i}`, content: `message ${i}` });
    const writes = Array.from({ length: 40 }, (_, i) =>
      store.append({
        from: "ai-pc",
        to: "clawbridge",
        type: "message",
        content: `bridge line ${i} ${"x".repeat(2000)}`,
      }),
    );
    await Promise.all(writes);
    await waitFor(() => w.agent.answered() === 5, { what: "five answers" });
    const inbox = w.lines("clawbridge"); // throws on any torn line
    expect(inbox).toHaveLength(45);
    expect(inbox.filter((e) => e.from === "nas-agent").map((e) => e.replyTo)).toEqual([
      "m0",
      "m1",
      "m2",
      "m3",
      "m4",
    ]);
  });

  it("stop() stops: nothing is answered afterwards, not even a line waiting for its delay", async () => {
    const w = await world({ delayMs: 300 });
    w.send({ from: "clawbridge", id: "s1", content: "too late" });
    await sleep(100); // read, waiting for its delay
    await w.agent.stop();
    w.send({ from: "clawbridge", id: "s2", content: "after stop" });
    await sleep(500);
    expect(w.agent.answered()).toBe(0);
    expect(w.lines("clawbridge")).toHaveLength(0);
  });

  it("uses the given answer, sync or async", async () => {
    const fixture = sharedFixture();
    const agent = await startMailboxAgent({
      root: fixture.root,
      node: "nas-agent",
      self: "bridge-2",
      pollMs: 20,
      answer: async (e) => `echo ${e.content}`,
    });
    agents.push(agent);
    fixture.write(
      "nas-agent",
      `${JSON.stringify({ from: "bridge-2", to: "nas-agent", timestamp: "2026-02-14T18:40:00+08:00", type: "message", content: "hi", id: "x1" })}\n`,
    );
    await waitFor(() => agent.answered() === 1);
    const line = readFileSync(fixture.inbox("bridge-2"), "utf8").trim();
    expect(JSON.parse(line)).toMatchObject({ to: "bridge-2", content: "echo hi", replyTo: "x1" });
  });

  it("an answer of undefined leaves the envelope unanswered, and costs no delay", async () => {
    const fixture = sharedFixture();
    const agent = await startMailboxAgent({
      root: fixture.root,
      node: "nas-agent",
      pollMs: 20,
      delayMs: 400,
      // As the demo's agent: answers are not answered, or two agents would talk forever.
      answer: (e) => (e.replyTo === undefined ? `got ${e.content}` : undefined),
    });
    agents.push(agent);
    const line = (fields: Record<string, unknown>) =>
      `${JSON.stringify({ from: "clawbridge", to: "nas-agent", timestamp: "2026-02-14T18:40:00+08:00", type: "message", ...fields })}\n`;
    fixture.write("nas-agent", line({ id: "a1", content: "an answer", replyTo: "mine" }));
    fixture.write("nas-agent", line({ id: "q1", content: "a question" }));
    const started = Date.now();
    await waitFor(() => agent.answered() === 1, { what: "the answer to the question" });
    // One delay (the question's), not two: the skipped answer did not wait.
    expect(Date.now() - started).toBeLessThan(750);
    const lines = readFileSync(fixture.inbox("clawbridge"), "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ replyTo: "q1", content: "got a question" }),
    ]);
  });
});
