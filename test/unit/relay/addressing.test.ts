import { describe, expect, it } from "vitest";
import { AddressBook, withoutMention } from "../../../src/relay/addressing.js";

const book = new AddressBook([
  { node: "ai-pc", displayName: "AI电脑", botName: "AI-PC 助手" },
  { node: "office-mac", displayName: "办公室 Mac", botName: "Office Mac" },
  { node: "nas-agent" },
]);

const nodes = (text: string, speaker?: string): string[] =>
  book.addressees(text, { speaker }).map((a) => a.node);

describe("AddressBook.addressees", () => {
  it("finds @bot name, @node name and @displayName, saying how and with what", () => {
    expect(book.addressees("@AI-PC 助手 帮我跑一下 benchmark")).toEqual([
      { node: "ai-pc", via: "bot-name", match: "@AI-PC 助手" },
    ]);
    expect(book.addressees("请 @office-mac 看看")).toEqual([
      { node: "office-mac", via: "node-name", match: "@office-mac" },
    ]);
    expect(book.addressees("@AI电脑 在吗")).toEqual([
      { node: "ai-pc", via: "display-name", match: "@AI电脑" },
    ]);
    expect(book.addressees("@办公室 Mac 你好")).toEqual([
      { node: "office-mac", via: "display-name", match: "@办公室 Mac" },
    ]);
  });

  it("matches Feishu <at> tags by the name inside, whatever the id attribute and quotes", () => {
    const tag = '<at user_id="ou_only_meaningful_to_office_mac">AI-PC 助手</at>';
    expect(book.addressees(`${tag} 帮我跑一下 benchmark`)).toEqual([
      { node: "ai-pc", via: "at-tag", match: tag },
    ]);
    expect(nodes("<at id='ou_x'>AI电脑</at> hi")).toEqual(["ai-pc"]);
    expect(nodes('<at open_id="ou_y">Office Mac</at>')).toEqual(["office-mac"]);
    expect(nodes("<at email=someone@example.com>nas-agent</at>")).toEqual(["nas-agent"]);
    expect(nodes('<AT USER_ID="ou_z">@AI电脑</AT>')).toEqual(["ai-pc"]);
    // A tag naming someone who is not a node (a person) addresses no node.
    expect(nodes('<at user_id="ou_p">张三</at> 你好')).toEqual([]);
  });

  it("compares names under NFKC, ignoring case and whitespace", () => {
    expect(nodes("@ai-pc助手 跑一下")).toEqual(["ai-pc"]);
    expect(nodes("@ＡＩ电脑 全角也行")).toEqual(["ai-pc"]);
    expect(nodes("＠AI电脑 全角 @ 也行")).toEqual(["ai-pc"]);
    expect(nodes("@OFFICE-MAC hi")).toEqual(["office-mac"]);
    expect(nodes("@officemac and @办公室Mac")).toEqual(["office-mac"]);
    expect(nodes("@AI 电脑 空格")).toEqual(["ai-pc"]);
    expect(book.nodeForName(" ai-pc 助手 ")).toBe("ai-pc");
    expect(book.nodeForName("@AI电脑")).toBe("ai-pc");
    expect(book.nodeForName("someone")).toBe(undefined);
  });

  it("does not let a name run over a line break or start after a space", () => {
    expect(nodes("@AI-PC\n助手")).toEqual(["ai-pc"]);
    expect(book.addressees("@AI-PC\n助手")[0]?.via).toBe("node-name");
    expect(nodes("@ AI电脑")).toEqual([]);
  });

  it("prefers the longest name", () => {
    const longer = new AddressBook([
      { node: "ai-pc", displayName: "AI-PC" },
      { node: "helper", displayName: "AI-PC 助手" },
    ]);
    expect(longer.addressees("@AI-PC 助手 你好").map((a) => a.node)).toEqual(["helper"]);
    expect(longer.addressees("@AI-PC 你好").map((a) => a.node)).toEqual(["ai-pc"]);
    expect(longer.addressees("@AI-PC助手你好").map((a) => a.node)).toEqual(["helper"]);
  });

  it("does not take an ASCII name out of a longer word; after CJK anything may follow", () => {
    expect(nodes("@ai-pc2 is another machine")).toEqual([]);
    expect(nodes("@ai-pcx @ai-pc_test @ai-pc-old")).toEqual([]);
    expect(nodes("@ai-pc, @ai-pc. @ai-pc！")).toEqual(["ai-pc"]);
    expect(nodes("@ai-pc：帮我看看")).toEqual(["ai-pc"]);
    expect(nodes("@AI电脑帮我看看")).toEqual(["ai-pc"]);
    expect(nodes("@AI电脑2号")).toEqual(["ai-pc"]);
  });

  it("needs the @ at the start or after a non-word character", () => {
    expect(nodes("mail me@ai-pc.com")).toEqual([]);
    expect(nodes("see https://example.com/@ai-pc")).toEqual([]);
    expect(nodes("(@ai-pc) 你好")).toEqual(["ai-pc"]);
    expect(nodes("请@AI电脑 看看")).toEqual(["ai-pc"]);
    expect(nodes("好的，@office-mac 收到")).toEqual(["office-mac"]);
  });

  it("ignores fenced code blocks and inline code", () => {
    expect(nodes("```\n@ai-pc 不是在叫你\n```\n@office-mac 请看上面")).toEqual(["office-mac"]);
    expect(nodes("运行 `ping @ai-pc` 试试")).toEqual([]);
    expect(nodes('``<at user_id="ou_1">AI电脑</at>`` 只是例子')).toEqual([]);
    expect(nodes("```ts\nconst x = '@ai-pc';\n")).toEqual([]);
    // A lone backtick is a literal character, not the start of code.
    expect(nodes("it`s for @ai-pc")).toEqual(["ai-pc"]);
    // A real tag after a quoted one is still seen.
    expect(nodes('`<at id="x">AI电脑</at>` 和 <at id="y">Office Mac</at>')).toEqual(["office-mac"]);
  });

  it('treats @all and <at user_id="all"> as addressing nobody', () => {
    expect(nodes("@all 大家好")).toEqual([]);
    expect(nodes("@所有人 注意")).toEqual([]);
    expect(nodes('<at user_id="all">所有人</at> 注意')).toEqual([]);
    expect(nodes("<at id='all'>everyone</at> @allen")).toEqual([]);
    const withAllNode = new AddressBook([{ node: "all", displayName: "全体机器" }, { node: "all-hands" }]);
    expect(withAllNode.addressees("@all @all-hands").map((a) => a.node)).toEqual(["all-hands"]);
  });

  it("lists nodes in order of first appearance, without repeats, never the speaker", () => {
    const text = '@office-mac 和 <at id="x">AI电脑</at> 你们好，@nas-agent 也看看；@office-mac 再说一次';
    expect(nodes(text)).toEqual(["office-mac", "ai-pc", "nas-agent"]);
    expect(nodes(text, "office-mac")).toEqual(["ai-pc", "nas-agent"]);
    expect(nodes(text, "AI-PC")).toEqual(["office-mac", "nas-agent"]);
    expect(nodes("没有提到任何人")).toEqual([]);
  });

  it("resolves a name two entries claim: node name, then bot name, then display name", () => {
    const clash = new AddressBook([
      { node: "alpha", displayName: "beta" },
      { node: "beta" },
      { node: "gamma", botName: "助手" },
      { node: "delta", displayName: "助手" },
    ]);
    expect(clash.nodeForName("beta")).toBe("beta");
    expect(clash.nodeForName("助手")).toBe("gamma");
  });
});

describe("withoutMention", () => {
  it("removes the addressee's @name or tag, with a following colon or comma, and trims", () => {
    expect(withoutMention("@AI-PC 助手 帮我跑一下 benchmark", "ai-pc", book)).toBe("帮我跑一下 benchmark");
    expect(withoutMention('<at user_id="ou_x">AI电脑</at> 帮我看看', "ai-pc", book)).toBe("帮我看看");
    expect(withoutMention("@AI电脑，帮我看看", "ai-pc", book)).toBe("帮我看看");
    expect(withoutMention("请 @ai-pc 帮我看看", "ai-pc", book)).toBe("请 帮我看看");
    expect(withoutMention("Hi @ai-pc: run it", "ai-pc", book)).toBe("Hi run it");
    expect(withoutMention("跑完了\n结果给 @AI电脑\n谢谢", "ai-pc", book)).toBe("跑完了\n结果给\n谢谢");
  });

  it("keeps other nodes' mentions and anything in code", () => {
    expect(withoutMention("@ai-pc, @office-mac 你们一起看看 `@ai-pc`", "ai-pc", book)).toBe(
      "@office-mac 你们一起看看 `@ai-pc`",
    );
    expect(withoutMention("没有提到", "ai-pc", book)).toBe("没有提到");
  });
});
