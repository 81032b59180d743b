// Long: every card is checked in both languages, per state and for its size cap, with real assertions.
import { describe, expect, it } from "vitest";
import type { CardJson } from "../../../src/feishu/index.js";
import {
  cardBytes,
  escapeMarkdown,
  formatClock,
  formatDuration,
  relativeAge,
  taskCard,
  taskFinalText,
  taskStateLabel,
} from "../../../src/tasks/cards/index.js";
import { TASK_T0 as T0, taskFixture as task } from "../../helpers/task-fixture.js";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface TextNode {
  tag: string;
  content: string;
}

/** Every piece of text on the card with the tag that renders it (`plain_text`, `markdown`). */
function texts(card: unknown): TextNode[] {
  const found: TextNode[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record.content === "string" && typeof record.tag === "string") {
      found.push({ tag: record.tag, content: record.content });
    }
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}

function allText(card: CardJson): string {
  return texts(card)
    .map((node) => node.content)
    .join("\n");
}

function buttons(card: CardJson): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    const record = value as Record<string, unknown>;
    if (record.tag === "button") found.push(record);
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}

function buttonValue(button: Record<string, unknown>): unknown {
  const behaviors = button.behaviors as { type: string; value: unknown }[];
  return behaviors.find((behavior) => behavior.type === "callback")?.value;
}

function header(card: CardJson): { title: string; template: string; summary: string } {
  const h = card.header as { title: { tag: string; content: string }; template: string };
  const config = card.config as { update_multi: boolean; summary: { content: string } };
  expect(card.schema).toBe("2.0");
  expect(config.update_multi).toBe(true);
  expect(h.title.tag).toBe("plain_text");
  return { title: h.title.content, template: h.template, summary: config.summary.content };
}

describe("taskCard header and state", () => {
  it("shows a running task with its elapsed clock, blue, and the summary repeating the header", () => {
    const zh = header(taskCard(task(), { now: T0 + 3_400 }));
    expect(zh).toEqual({
      title: "任务 T7 · ai-pc · 运行中 · 00:03",
      template: "blue",
      summary: "任务 T7 · ai-pc · 运行中 · 00:03",
    });
    const en = header(taskCard(task({ locale: "en" }), { now: T0 + 3_400 }));
    expect(en.title).toBe("Task T7 · ai-pc · running · 00:03");
    expect(en.summary).toBe(en.title);
  });

  it("shows the queue position while queued, grey, without a node picked", () => {
    const queued = task({
      id: "T8",
      state: "queued",
      node: undefined,
      target: undefined,
      startedAt: undefined,
    });
    expect(header(taskCard(queued, { now: T0, queuePosition: 2 }))).toMatchObject({
      title: "任务 T8 · 排队中（第 2 位）",
      template: "grey",
    });
    expect(header(taskCard({ ...queued, locale: "en" }, { now: T0, queuePosition: 2 })).title).toBe(
      "Task T8 · queued (#2)",
    );
  });

  it("shows the total duration and a colour per final state", () => {
    const ended = { endedAt: T0 + 192_000 };
    const cases = [
      ["done", "任务 T7 · ai-pc · 已完成 · 3分12秒", "Task T7 · ai-pc · done · 3 min 12 s", "green"],
      ["failed", "任务 T7 · ai-pc · 失败 · 3分12秒", "Task T7 · ai-pc · failed · 3 min 12 s", "red"],
      ["timeout", "任务 T7 · ai-pc · 已超时 · 3分12秒", "Task T7 · ai-pc · timed out · 3 min 12 s", "orange"],
      ["cancelled", "任务 T7 · ai-pc · 已取消 · 3分12秒", "Task T7 · ai-pc · cancelled · 3 min 12 s", "grey"],
    ] as const;
    for (const [state, zh, en, color] of cases) {
      expect(header(taskCard(task({ state, ...ended }), { now: T0 + 999_999 }))).toMatchObject({
        title: zh,
        template: color,
      });
      expect(header(taskCard(task({ state, ...ended, locale: "en" }), { now: T0 })).title).toBe(en);
    }
  });

  it("says a mailbox-only node's task waits for the node to pick it up", () => {
    const mailbox = task({ node: "nas-agent", target: "nas-agent", via: "mailbox" });
    const zh = taskCard(mailbox, { now: T0 + 5_000 });
    expect(header(zh).title).toBe("任务 T7 · 等待 nas-agent 读取 · 00:05");
    expect(allText(zh)).toContain("messages/to-nas-agent.jsonl");
    const en = taskCard({ ...mailbox, locale: "en" }, { now: T0 + 5_000 });
    expect(header(en).title).toBe("Task T7 · waiting for nas-agent to pick it up · 00:05");
  });

  it("labels every state in both languages", () => {
    expect(taskStateLabel("queued", "zh-CN")).toBe("排队中");
    expect(taskStateLabel("running", "zh-CN")).toBe("运行中");
    expect(taskStateLabel("done", "en")).toBe("done");
    expect(taskStateLabel("timeout", "en")).toBe("timed out");
    expect(taskStateLabel("cancelled", "zh-CN")).toBe("已取消");
  });
});

describe("taskCard body and buttons", () => {
  it("names who asked, the target and the node, and shows the prompt", () => {
    const text = allText(taskCard(task(), { now: T0 }));
    expect(text).toContain("发起人：小王");
    expect(text).toContain("目标：#gpu → ai-pc");
    expect(text).toContain("用新数据重新训练分类模型");
    const agent = task({
      requestedBy: { kind: "agent", node: "office-mac" },
      target: undefined,
      locale: "en",
    });
    const en = allText(taskCard(agent, { now: T0 }));
    expect(en).toContain("Asked by office-mac (agent)");
    expect(en).toContain("Target: any node → ai-pc");
    const anonymous = task({ requestedBy: { kind: "user", openId: "ou_x" }, target: "ai-pc" });
    const anon = allText(taskCard(anonymous, { now: T0 }));
    // Without a name, Feishu renders the person from their open_id.
    expect(anon).toContain("发起人：<at id=ou_x></at>");
    expect(anon).toContain("目标：ai-pc");
    expect(anon).not.toContain("→");
  });

  it("folds a long prompt to about 300 characters", () => {
    const card = taskCard(task({ prompt: "做".repeat(2000) }), { now: T0 });
    const prompt = texts(card).find((node) => node.content.startsWith("做"))!;
    expect(prompt.content.length).toBeLessThanOrEqual(300);
    expect(prompt.content.endsWith("…")).toBe(true);
  });

  it("has a danger Cancel button while queued or running", () => {
    for (const state of ["queued", "running"] as const) {
      const all = buttons(taskCard(task({ state }), { now: T0 }));
      expect(all).toHaveLength(1);
      expect(all[0]!.type).toBe("danger");
      expect((all[0]!.text as { content: string }).content).toBe("取消");
      expect(buttonValue(all[0]!)).toEqual({ cb: "task.cancel", task: "T7" });
    }
    const en = buttons(taskCard(task({ locale: "en" }), { now: T0 }));
    expect((en[0]!.text as { content: string }).content).toBe("Cancel");
  });

  it("has a Retry button once final, and no Cancel", () => {
    for (const state of ["done", "failed", "cancelled", "timeout"] as const) {
      const all = buttons(taskCard(task({ state, endedAt: T0 + 1000 }), { now: T0 }));
      expect(all).toHaveLength(1);
      expect((all[0]!.text as { content: string }).content).toBe("重试");
      expect(buttonValue(all[0]!)).toEqual({ cb: "task.retry", task: "T7" });
    }
  });

  it("gives the reason for failed, timed out and cancelled tasks, and who cancelled", () => {
    const failed = allText(taskCard(task({ state: "failed", reason: "网关断开" }), { now: T0 }));
    expect(failed).toContain("原因：网关断开");
    const timeout = allText(
      taskCard(task({ state: "timeout", reason: "30 min passed", locale: "en" }), { now: T0 }),
    );
    expect(timeout).toContain("Reason: 30 min passed");
    const cancelled = allText(taskCard(task({ state: "cancelled", cancelledBy: "ou_wang" }), { now: T0 }));
    expect(cancelled).toContain("由 小王 取消");
    const byAdmin = allText(
      taskCard(task({ state: "cancelled", cancelledBy: "ou_admin", locale: "en" }), { now: T0 }),
    );
    expect(byAdmin).toContain("Cancelled by ou_admin");
    expect(allText(taskCard(task({ state: "done", reason: "x" }), { now: T0 }))).not.toContain("原因");
  });

  it("says when there is no output yet, or none at all", () => {
    expect(allText(taskCard(task(), { now: T0 }))).toContain("（暂无输出）");
    expect(allText(taskCard(task({ state: "done", locale: "en" }), { now: T0 }))).toContain("(no output)");
  });
});

describe("taskCard output", () => {
  const lines = (count: number) => Array.from({ length: count }, (_, i) => `line ${i + 1}`).join("\n");

  it("shows the whole output when it is short, without a pointer", () => {
    const card = taskCard(task({ output: "epoch 1\nepoch 2\n" }), { now: T0 });
    expect(texts(card).some((node) => node.content === "epoch 1\nepoch 2")).toBe(true);
    expect(allText(card)).not.toContain("完整结果");
  });

  it("keeps the last 20 lines and points to the full result", () => {
    const card = taskCard(task({ output: lines(100) }), { now: T0 });
    const output = texts(card).find((node) => node.content.includes("line 100"))!;
    expect(output.tag).toBe("plain_text");
    expect(output.content.split("\n")).toEqual([
      "…",
      ...Array.from({ length: 20 }, (_, i) => `line ${81 + i}`),
    ]);
    expect(allText(card)).toContain("完整结果见 /task T7 或 messages/to-clawbridge.jsonl");
  });

  it("points to the requester's inbox for agent tasks and to selfInbox for people", () => {
    const agent = task({
      requestedBy: { kind: "agent", node: "office-mac" },
      locale: "en",
      output: lines(30),
    });
    expect(allText(taskCard(agent, { now: T0 }))).toContain(
      "full result: /task T7 or messages/to-office-mac.jsonl",
    );
    const person = taskCard(task({ output: lines(30) }), { now: T0, selfInbox: "bridge" });
    expect(allText(person)).toContain("messages/to-bridge.jsonl");
  });

  it("honours outputLines and maxOutputChars", () => {
    const few = taskCard(task({ output: lines(50) }), { now: T0, outputLines: 5 });
    expect(
      texts(few)
        .find((node) => node.content.includes("line 50"))!
        .content.split("\n"),
    ).toHaveLength(6);
    const oneLine = "x".repeat(10_000);
    const card = taskCard(task({ output: oneLine }), { now: T0, maxOutputChars: 1000 });
    const shown = texts(card).find((node) => node.content.includes("xxx"))!;
    expect(shown.content.length).toBeLessThanOrEqual(1002);
    expect(allText(card)).toContain("完整结果见");
  });

  it("stays far below 30 KB with 1 MB of output of any kind", () => {
    for (const chunk of ["进度 42%，损失 0.318\n", '"quoted" \\ back\n', "\u0001\u0002\n", "😀"]) {
      const output = chunk.repeat(Math.ceil(1_048_576 / chunk.length));
      const card = taskCard(task({ output, prompt: chunk.repeat(500), reason: chunk.repeat(500) }), {
        now: T0,
        maxOutputChars: 50_000,
        outputLines: 5_000,
      });
      expect(cardBytes(card)).toBeLessThan(28 * 1024);
      // No emoji is cut in half where the output was cut.
      for (const node of texts(card)) expect(node.content).not.toMatch(LONE_SURROGATE);
    }
  });
});

describe("escaping", () => {
  const hostile = 'hi <at user_id="all"></at> **bold** [x](http://e) <font color=red>r</font>';

  it("puts agent output and prompts only in plain_text", () => {
    const card = taskCard(task({ prompt: hostile, output: hostile, reason: hostile, state: "failed" }), {
      now: T0,
    });
    const carrying = texts(card).filter(
      (node) =>
        node.content.includes("<at") || node.content.includes("**bold**") || node.content.includes("](http"),
    );
    expect(carrying.length).toBeGreaterThanOrEqual(3);
    for (const node of carrying) expect(node.tag).toBe("plain_text");
    expect(texts(card).some((node) => node.tag === "markdown" || node.tag === "lark_md")).toBe(false);
  });

  it("escapeMarkdown leaves no markup, only entities Feishu shows as the characters", () => {
    const escaped = escapeMarkdown(hostile);
    expect(escaped).not.toMatch(/[<>*[\]()]/);
    expect(escaped).toContain("&#60;at user&#95;id&#61;&#34;all&#34;&#62;");
    expect(escaped).toContain("&#42;&#42;bold&#42;&#42;");
    expect(escaped).toContain("&#91;x&#93;&#40;http&#58;&#47;&#47;e&#41;");
    expect(escapeMarkdown("AI电脑 训练\n第二行")).toBe("AI电脑 训练\n第二行");
    expect(escapeMarkdown("&#42;")).toBe("&#38;&#35;42;");
  });
});

describe("taskFinalText", () => {
  const ended = { endedAt: T0 + 192_000 };

  it("says a task is done with its node and duration", () => {
    expect(taskFinalText(task({ state: "done", ...ended }), T0)).toBe("任务 T7 已完成（ai-pc，3分12秒）");
    expect(taskFinalText(task({ state: "done", ...ended, locale: "en" }), T0)).toBe(
      "Task T7 is done (ai-pc, 3 min 12 s)",
    );
  });

  it("gives the reason for failed, timed out and cancelled tasks", () => {
    expect(taskFinalText(task({ state: "failed", reason: "网关断开", ...ended }), T0)).toBe(
      "任务 T7 失败（ai-pc，3分12秒）：网关断开",
    );
    expect(
      taskFinalText(task({ state: "timeout", reason: "no answer in 30 min", ...ended, locale: "en" }), T0),
    ).toBe("Task T7 timed out (ai-pc, 3 min 12 s): no answer in 30 min");
    expect(
      taskFinalText(
        task({ state: "cancelled", node: undefined, startedAt: undefined, reason: "由小王取消" }),
        T0,
      ),
    ).toBe("任务 T7 已取消：由小王取消");
    expect(taskFinalText(task({ state: "cancelled", ...ended, locale: "en" }), T0)).toBe(
      "Task T7 was cancelled (ai-pc, 3 min 12 s)",
    );
  });

  it("folds the reason to one line that mentions nobody", () => {
    const text = taskFinalText(
      task({ state: "failed", reason: 'bad\n<at user_id="all"></at>', ...ended }),
      T0,
    );
    expect(text).not.toContain("\n");
    expect(text).not.toMatch(/<\s*at/);
  });

  it("says the state of a task that is still open", () => {
    expect(taskFinalText(task(), T0)).toBe("任务 T7：运行中");
  });
});

describe("durations", () => {
  it("formats durations in both languages", () => {
    expect(formatDuration(192_000, "zh-CN")).toBe("3分12秒");
    expect(formatDuration(192_000, "en")).toBe("3 min 12 s");
    expect(formatDuration(180_000, "zh-CN")).toBe("3分钟");
    expect(formatDuration(12_400, "en")).toBe("12 s");
    expect(formatDuration(3_900_000, "zh-CN")).toBe("1小时5分");
    expect(formatDuration(7_200_000, "en")).toBe("2 h");
    expect(formatDuration(90_000_000, "en")).toBe("1 d 1 h");
    expect(formatDuration(-5, "en")).toBe("0 s");
  });

  it("formats a running clock", () => {
    expect(formatClock(3_999)).toBe("00:03");
    expect(formatClock(760_000)).toBe("12:40");
    expect(formatClock(3_723_000)).toBe("1:02:03");
  });

  it("formats a relative age in one unit", () => {
    expect(relativeAge(200_000, "zh-CN")).toBe("3分钟");
    expect(relativeAge(200_000, "en")).toBe("3 min");
    expect(relativeAge(30_000, "en")).toBe("30 s");
    expect(relativeAge(7_300_000, "zh-CN")).toBe("2小时");
    expect(relativeAge(3 * 86_400_000, "en")).toBe("3 d");
  });
});
