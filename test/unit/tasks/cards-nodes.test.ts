// Long: the nodes, form, pairing, watch and text cards, each in both languages and under the size cap.
import { describe, expect, it } from "vitest";
import { literalText } from "../../../src/core/index.js";
import type { CardJson } from "../../../src/feishu/index.js";
import type { NodeHealth } from "../../../src/nodes/index.js";
import {
  cardBytes,
  dispatchFormCard,
  nodesCard,
  nodeStatusText,
  pairingCard,
  taskCard,
  textCard,
  watchCard,
  type WatchItem,
} from "../../../src/tasks/cards/index.js";

const NOW = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;

function node(overrides: Partial<NodeHealth> = {}): NodeHealth {
  return {
    name: "ai-pc",
    displayName: "AI电脑",
    kind: "gateway",
    tags: ["gpu"],
    maxConcurrent: 2,
    running: 1,
    status: "online",
    healthy: true,
    lastSeen: NOW,
    latencyMs: 23,
    ...overrides,
  };
}

const FLEET: NodeHealth[] = [
  node(),
  node({
    name: "office-mac",
    displayName: undefined,
    tags: [],
    running: 0,
    maxConcurrent: 1,
    status: "pairing",
    healthy: false,
    latencyMs: undefined,
    lastSeen: NOW - 3 * MIN,
    offlineForMs: 3 * MIN,
    pairing: { requestId: "3f2a9c", command: "openclaw devices approve 3f2a9c" },
  }),
  node({
    name: "nas-agent",
    displayName: undefined,
    kind: "mailbox",
    tags: ["nas"],
    running: 0,
    maxConcurrent: 1,
    status: "mailbox-live",
    latencyMs: undefined,
    lastSeen: NOW - 40_000,
  }),
  node({
    name: "old-box",
    displayName: undefined,
    tags: [],
    status: "offline",
    healthy: false,
    running: 0,
    latencyMs: undefined,
    lastSeen: NOW - 3 * MIN,
    offlineForMs: 3 * MIN,
    lastError: { code: "CB_GATEWAY_UNREACHABLE", message: "connection refused", fix: "start the gateway" },
  }),
];

interface TextNode {
  tag: string;
  content: string;
}

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

const allText = (card: CardJson) =>
  texts(card)
    .map((n) => n.content)
    .join("\n");

function byTag(card: unknown, tag: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    const record = value as Record<string, unknown>;
    if (record.tag === tag) found.push(record);
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}

function callbackValue(button: Record<string, unknown>): unknown {
  return (button.behaviors as { type: string; value: unknown }[]).find((b) => b.type === "callback")?.value;
}

function header(card: CardJson): { title: string; template: string } {
  const h = card.header as { title: { content: string }; template: string };
  const config = card.config as { update_multi: boolean; summary: { content: string } };
  expect(card.schema).toBe("2.0");
  expect(config.update_multi).toBe(true);
  expect(config.summary.content).toBe(h.title.content);
  return { title: h.title.content, template: h.template };
}

describe("nodesCard", () => {
  it("gives each node its status word, load, tags, latency and last seen (zh-CN)", () => {
    const card = nodesCard(FLEET, { now: NOW, canDispatch: true, locale: "zh-CN" });
    expect(header(card)).toEqual({ title: "节点 · 2/4 可用", template: "orange" });
    const blocks = byTag(card, "markdown").map((b) => b.content as string);
    expect(blocks).toHaveLength(4);
    expect(blocks[0]).toContain("**AI电脑** ai&#45;pc");
    expect(blocks[0]).toContain("<font color='green'>在线</font>");
    expect(blocks[0]).toContain("任务 1&#47;2");
    expect(blocks[0]).toContain("&#35;gpu");
    expect(blocks[0]).toContain("23 ms");
    expect(blocks[1]).toContain("待配对");
    expect(blocks[2]).toContain("仅邮箱");
    expect(blocks[2]).toContain("40秒前在线");
    expect(blocks[3]).toContain("<font color='red'>离线 3分钟</font>");
    expect(allText(card)).toContain("connection refused — start the gateway");
  });

  it("shows the approve command of a pairing node as plain text", () => {
    const card = nodesCard(FLEET, { now: NOW, canDispatch: false, locale: "en" });
    const command = texts(card).find((n) => n.content.includes("openclaw devices approve"))!;
    expect(command).toEqual({ tag: "plain_text", content: "openclaw devices approve 3f2a9c" });
    expect(allText(card)).toContain("Run on office-mac:");
  });

  it("has the Dispatch button only for someone who may dispatch", () => {
    const may = byTag(nodesCard(FLEET, { now: NOW, canDispatch: true, locale: "zh-CN" }), "button");
    expect(may).toHaveLength(1);
    expect((may[0]!.text as { content: string }).content).toBe("派发任务");
    expect(callbackValue(may[0]!)).toEqual({ cb: "run.form" });
    expect(byTag(nodesCard(FLEET, { now: NOW, canDispatch: false, locale: "zh-CN" }), "button")).toHaveLength(
      0,
    );
  });

  it("says every status in both languages", () => {
    const words = (locale: "zh-CN" | "en") =>
      (
        [
          ["online", undefined],
          ["offline", 3 * MIN],
          ["offline", undefined],
          ["pairing", undefined],
          ["mailbox-live", undefined],
          ["mailbox-stale", 10 * MIN],
          ["connecting", undefined],
          ["auth-failed", undefined],
          ["unknown", undefined],
        ] as const
      ).map(([status, offlineForMs]) => nodeStatusText(node({ status, offlineForMs }), locale));
    expect(words("zh-CN")).toEqual([
      "在线",
      "离线 3分钟",
      "离线",
      "待配对",
      "仅邮箱",
      "邮箱无响应 10分钟",
      "连接中",
      "认证失败",
      "未知",
    ]);
    expect(words("en")).toEqual([
      "online",
      "offline 3 min",
      "offline",
      "needs pairing",
      "mailbox only",
      "mailbox silent 10 min",
      "connecting",
      "auth failed",
      "unknown",
    ]);
  });

  it("escapes names and problems so nothing renders as a mention, link or bold", () => {
    const hostile = node({
      displayName: '<at user_id="all"></at> **bold** [x](http://e)',
      tags: ["<at id=all>"],
      lastError: { code: "X", message: '<at user_id="all"></at>', text: literalText("**bold**") },
    });
    const card = nodesCard([hostile], { now: NOW, canDispatch: false, locale: "en" });
    for (const block of byTag(card, "markdown")) {
      const content = block.content as string;
      expect(content).not.toMatch(/<at|\*\*bold|\]\(/);
      expect(content).toContain("&#60;at user&#95;id&#61;&#34;all&#34;&#62;");
    }
    const problem = texts(card).find((n) => n.content.includes("**bold**"))!;
    expect(problem.tag).toBe("plain_text");
  });

  it("says so when no nodes are configured", () => {
    const card = nodesCard([], { now: NOW, canDispatch: true, locale: "zh-CN" });
    expect(header(card)).toEqual({ title: "节点 · 0/0 可用", template: "grey" });
    expect(allText(card)).toContain("还没有配置节点");
    expect(byTag(card, "button")).toHaveLength(0);
  });

  it("shows at most 50 nodes and says how many more there are", () => {
    const many = Array.from({ length: 80 }, (_, i) => node({ name: `n${i}`, displayName: undefined }));
    const card = nodesCard(many, { now: NOW, canDispatch: true, locale: "zh-CN" });
    expect(byTag(card, "markdown")).toHaveLength(50);
    expect(allText(card)).toContain("……还有 30 个节点");
  });
});

describe("card size caps", () => {
  const bulky = (i: number) =>
    node({
      name: `node-${String(i).padStart(2, "0")}-${"x".repeat(50)}`,
      displayName: "很长的显示名称".repeat(20),
      tags: Array.from({ length: 10 }, (_, j) => `tag-${j}-${"y".repeat(20)}`),
      status: "pairing",
      healthy: false,
      lastSeen: NOW - 5 * MIN,
      offlineForMs: 5 * MIN,
      pairing: { requestId: "r".repeat(40), command: `openclaw devices approve ${"r".repeat(400)}` },
      lastError: { code: "CB_X", message: "出错了".repeat(200), fix: "修一下".repeat(200) },
    });

  it("keeps a card of 50 bulky nodes under 28 KB, dropping blocks it cannot fit", () => {
    const card = nodesCard(
      Array.from({ length: 50 }, (_, i) => bulky(i)),
      { now: NOW, canDispatch: true, locale: "zh-CN" },
    );
    expect(cardBytes(card)).toBeLessThan(28 * 1024);
    const shown = byTag(card, "markdown").length;
    expect(shown).toBeGreaterThan(5);
    if (shown < 50) expect(allText(card)).toContain(`……还有 ${50 - shown} 个节点`);
    expect(byTag(card, "button")).toHaveLength(1);
  });

  it("keeps 50 ordinary nodes all on the card, under 28 KB", () => {
    const card = nodesCard(
      Array.from({ length: 50 }, (_, i) => node({ name: `node-${i}`, tags: ["gpu", "fast"] })),
      { now: NOW, canDispatch: true, locale: "en" },
    );
    expect(byTag(card, "markdown")).toHaveLength(50);
    expect(cardBytes(card)).toBeLessThan(28 * 1024);
  });

  it("keeps a task card with 1 MB of output under 28 KB", () => {
    const output = '训练中 epoch 1/100 loss=0.31 "ok"\n'.repeat(40_000);
    expect(output.length).toBeGreaterThan(1_000_000);
    const card = taskCard(
      {
        id: "T7",
        seq: 7,
        node: "ai-pc",
        prompt: "p",
        state: "done",
        requestedBy: { kind: "user", openId: "ou_1" },
        locale: "zh-CN",
        envelopeId: "e",
        createdAt: NOW,
        startedAt: NOW,
        endedAt: NOW + 1000,
        output,
      },
      { now: NOW },
    );
    expect(cardBytes(card)).toBeLessThan(28 * 1024);
    expect(allText(card)).toContain("完整结果见 /task T7");
  });

  it("measures the size the way Feishu does: the card JSON escaped once more", () => {
    const card = textCard('say "hi"', []);
    expect(cardBytes(card)).toBe(Buffer.byteLength(JSON.stringify(JSON.stringify(card))) - 2);
    expect(cardBytes(card)).toBeGreaterThan(Buffer.byteLength(JSON.stringify(card)));
  });
});

describe("dispatchFormCard", () => {
  const form = (card: CardJson) => {
    const elements = (card.body as { elements: Record<string, unknown>[] }).elements;
    const root = elements.find((e) => e.tag === "form")!;
    return { elements, root, inner: root.elements as Record<string, unknown>[] };
  };

  it("is a form at the body's root with target, prompt and a submit button (zh-CN)", () => {
    const card = dispatchFormCard({ locale: "zh-CN", nodes: FLEET, tags: ["gpu", "#nas"] });
    expect(header(card)).toEqual({ title: "派发任务", template: "blue" });
    const { inner } = form(card);
    const select = inner.find((e) => e.tag === "select_static")!;
    expect(select.name).toBe("target");
    const options = select.options as { text: { tag: string; content: string }; value: string }[];
    expect(options.map((o) => o.value)).toEqual([
      "*",
      "#gpu",
      "#nas",
      "ai-pc",
      "office-mac",
      "nas-agent",
      "old-box",
    ]);
    expect(options[0]!.text).toEqual({ tag: "plain_text", content: "任意节点" });
    expect(options[3]!.text.content).toBe("AI电脑（ai-pc） · 在线");
    expect(options[4]!.text.content).toBe("office-mac · 待配对");
    expect(select.initial_index).toBe(1);

    const input = inner.find((e) => e.tag === "input")!;
    expect(input.name).toBe("prompt");
    expect(input.input_type).toBe("multiline_text");
    expect(input.placeholder).toEqual({ tag: "plain_text", content: "要做什么？" });

    const submit = inner.find((e) => e.tag === "button")!;
    expect(submit.name).toBe("submit");
    expect(submit.form_action_type).toBe("submit");
    expect(callbackValue(submit)).toEqual({ cb: "run.submit" });
    expect(byTag(card, "form")).toHaveLength(1);
  });

  it("speaks English and shows an error above the form with what was typed and chosen", () => {
    const card = dispatchFormCard({
      locale: "en",
      nodes: FLEET,
      tags: ["gpu"],
      prompt: "retrain",
      target: "#gpu",
      error: "Write what it should do",
    });
    const { elements, inner } = form(card);
    expect(elements[0]).toEqual({
      tag: "div",
      text: { tag: "plain_text", content: "Write what it should do", text_color: "red" },
    });
    const select = inner.find((e) => e.tag === "select_static")!;
    expect((select.options as { text: { content: string } }[])[0]!.text.content).toBe("Any node");
    expect(select.initial_index).toBe(2);
    const input = inner.find((e) => e.tag === "input")!;
    expect(input.placeholder).toEqual({ tag: "plain_text", content: "What should it do?" });
    expect(input.default_value).toBe("retrain");
  });
});

describe("pairingCard", () => {
  const pairing = { requestId: "3f2a9c", command: "openclaw devices approve 3f2a9c" };

  it("asks to run the approve command on that computer, orange", () => {
    const zh = pairingCard("ai-pc", pairing, "pairing", "zh-CN");
    expect(header(zh)).toEqual({ title: "ai-pc 需要配对", template: "orange" });
    expect(allText(zh)).toContain("在 ai-pc 上运行：");
    expect(texts(zh)).toContainEqual({ tag: "plain_text", content: "openclaw devices approve 3f2a9c" });
    const en = pairingCard("ai-pc", pairing, "pairing", "en");
    expect(header(en).title).toBe("ai-pc needs pairing");
    expect(allText(en)).toContain("--token <your gateway token>");
  });

  it("waits for the request when there is none yet, and turns green once connected", () => {
    expect(allText(pairingCard("ai-pc", undefined, "pairing", "zh-CN"))).toContain(
      "正在等待 ai-pc 的配对请求",
    );
    expect(header(pairingCard("ai-pc", pairing, "connected", "zh-CN"))).toEqual({
      title: "ai-pc 已连接",
      template: "green",
    });
    expect(header(pairingCard("ai-pc", undefined, "connected", "en")).title).toBe("ai-pc is connected");
  });
});

describe("watchCard", () => {
  const item = (i: number, text = `output ${i}`): WatchItem => ({
    kind: i % 2 === 0 ? "task" : "conversation",
    title: `T${i}`,
    state: "运行中",
    text,
    at: NOW - i * MIN,
  });

  it("shows the newest five runs first, each folded to its last ten lines", () => {
    const long = Array.from({ length: 30 }, (_, i) => `row ${i + 1}`).join("\n");
    const items = [item(6), item(0, long), item(3), item(1), item(5), item(2), item(4)];
    const card = watchCard("ai-pc", items, { now: NOW, locale: "zh-CN" });
    expect(header(card)).toEqual({ title: "关注 ai-pc", template: "blue" });
    const heads = texts(card)
      .map((n) => n.content)
      .filter((c) => /^(任务|对话) T\d/.test(c));
    expect(heads).toEqual([
      "任务 T0 · 运行中 · 刚刚",
      "对话 T1 · 运行中 · 1分钟前",
      "任务 T2 · 运行中 · 2分钟前",
      "对话 T3 · 运行中 · 3分钟前",
      "任务 T4 · 运行中 · 4分钟前",
    ]);
    const folded = texts(card).find((n) => n.content.includes("row 30"))!;
    expect(folded.tag).toBe("plain_text");
    expect(folded.content.split("\n")).toEqual([
      "…",
      ...Array.from({ length: 10 }, (_, i) => `row ${21 + i}`),
    ]);
    expect(allText(card)).toContain("……还有 2 条较早的未显示");
    expect(allText(card)).toContain("用 /unwatch 停止关注");
  });

  it("says when it stopped, and speaks English", () => {
    const stopped = watchCard("ai-pc", [item(1)], { now: NOW, locale: "en", stopped: true });
    expect(header(stopped)).toEqual({ title: "Stopped watching ai-pc", template: "grey" });
    expect(allText(stopped)).not.toContain("/unwatch");
    const idle = watchCard("ai-pc", [], { now: NOW, locale: "en" });
    expect(allText(idle)).toContain("/unwatch stops this");
    expect(allText(idle)).toContain("Nothing from ai-pc yet.");
  });

  it("stays under 28 KB with five huge runs", () => {
    const huge = ("长".repeat(400) + "\n").repeat(3000);
    const card = watchCard(
      "ai-pc",
      [0, 1, 2, 3, 4].map((i) => item(i, huge)),
      { now: NOW, locale: "zh-CN" },
    );
    expect(cardBytes(card)).toBeLessThan(28 * 1024);
  });
});

describe("textCard", () => {
  it("puts lines in plain text under a plain title", () => {
    const card = textCard("任务", ["T7 · 运行中 · 小王", "<at id=all></at>"], "green");
    expect(header(card)).toEqual({ title: "任务", template: "green" });
    expect(texts(card)).toContainEqual({
      tag: "plain_text",
      content: "T7 · 运行中 · 小王\n<at id=all></at>",
    });
  });
});
