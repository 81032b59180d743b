import { request } from "node:http";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import type { MessageView } from "../../../src/demo/web/index.js";
import { call, demoWebWorld, type } from "./demo-web-kit.js";

type Refusal = { error: { status: number; code: string; message: string } };
const XSS = "<img src=x onerror=alert(1)>";

describe("the demo page's API", () => {
  it("state: the group, the visitor, the bridge bot, the nodes, who can be @mentioned, the language", async () => {
    const dw = await demoWebWorld({ locale: "zh-CN" });
    const state = await call(dw.base, "GET", "/api/state");
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({
      locale: "zh-CN",
      chat: { id: dw.demo.chatId, members: 4 },
      visitor: { name: "小王" },
      bridge: { name: "clawbridge" },
      nodes: [
        { name: "ai-pc", displayName: "AI电脑", tags: ["gpu"], kind: "gateway" },
        { name: "office-mac", tags: [], kind: "gateway", bot: "Office 助手" },
        { name: "nas-agent", tags: [], kind: "mailbox" },
      ],
      mentionables: [
        { id: "bridge", name: "clawbridge" },
        { id: "office-mac", name: "Office 助手", node: "office-mac" },
      ],
      sharedDir: dw.demo.sharedDir,
    });
    // Card markdown names people by the open_id the bridge sees: the page can show 小王 for it.
    const names = (state.body as { names: Record<string, string> }).names;
    expect(names[dw.world.wang.openIdFor(dw.world.emu.bridge.appId)]).toBe("小王");
  });

  it("typed @mentions of bots become Feishu mentions; a node's name stays text", async () => {
    const dw = await demoWebWorld();
    const said = await type(dw, "@Office 助手 你好 @ai-pc");
    expect(said.parts).toEqual([{ mention: "Office 助手" }, { text: " 你好 @ai-pc" }]);
    expect(dw.world.emu.message(said.id)?.mentions).toEqual([dw.world.officeBot.unionId]);
    const explicit = await call<{ message: MessageView }>(dw.base, "POST", "/api/messages", {
      text: "/help",
      mentions: ["bridge"],
    });
    expect(explicit.status).toBe(201);
    expect(explicit.body.message.parts).toEqual([{ mention: "clawbridge" }, { text: " /help" }]);
  });

  it("a message carrying markup is stored and returned as data; the page holds no data and forbids inline code", async () => {
    const dw = await demoWebWorld();
    const said = await type(dw, `${XSS} **bold** <at user_id="all">所有人</at>`);
    expect(said.parts).toEqual([{ text: `${XSS} **bold** <at user_id="all">所有人</at>` }]);
    const listed = await call<{ messages: MessageView[] }>(dw.base, "GET", "/api/messages");
    expect(listed.body.messages.find((m) => m.id === said.id)?.parts).toEqual(said.parts);

    const page = await fetch(`${dw.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).not.toContain("onerror");
    expect(html).not.toMatch(/<script>/);

    // The script builds the DOM from text only: no HTML parsing of anything.
    const js = await (await fetch(`${dw.base}/app.js`)).text();
    expect(() => new vm.Script(js)).not.toThrow();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    const css = await fetch(`${dw.base}/app.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const again = await fetch(`${dw.base}/app.css`, {
      headers: { "If-None-Match": css.headers.get("etag")! },
    });
    expect(again.status).toBe(304);
  });

  it("/demo is sent to /demo/; a wrong method is told what is allowed", async () => {
    const dw = await demoWebWorld();
    const bare = await fetch(dw.base, { redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/demo/");
    const put = await call<Refusal>(dw.base, "PUT", "/api/messages", { text: "x" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toContain("POST");
  });

  it("bad input is refused with a clear JSON error, 4xx, never reaching the group", async () => {
    const dw = await demoWebWorld();
    const before = dw.world.emu.messages(dw.demo.chatId).length;
    const refused = async (
      method: string,
      path: string,
      body: unknown,
      headers: Record<string, string> = {},
    ) => (await call<Refusal>(dw.base, method, path, body, headers)) as { status: number; body: Refusal };

    const plain = await refused("POST", "/api/messages", "hi", { "Content-Type": "text/plain" });
    expect([plain.status, plain.body.error.code]).toEqual([415, "notJson"]);
    const broken = await refused("POST", "/api/messages", "{text:", { "Content-Type": "application/json" });
    expect([broken.status, broken.body.error.code]).toEqual([400, "badJson"]);
    const wrongType = await refused("POST", "/api/messages", { text: 5 });
    expect([wrongType.status, wrongType.body.error.code]).toEqual([400, "invalid"]);
    expect(wrongType.body.error.message).toContain("text:");
    const extra = await refused("POST", "/api/messages", { text: "hi", admin: true });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toContain("admin");
    const empty = await refused("POST", "/api/messages", { text: "   " });
    expect([empty.status, empty.body.error.code]).toEqual([400, "emptyMessage"]);
    const nobody = await refused("POST", "/api/messages", { text: "hi", mentions: ["nobody"] });
    expect(nobody.status).toBe(400);
    expect(nobody.body.error.message).toContain('unknown "nobody"');
    const huge = await refused("POST", "/api/messages", { text: "x".repeat(20_000) });
    expect([huge.status, huge.body.error.code]).toEqual([413, "tooLarge"]);
    const long = await refused("POST", "/api/messages", { text: "x".repeat(4_001) });
    expect(long.status).toBe(400);

    const noMessage = await refused("POST", "/api/actions", {
      kind: "button",
      messageId: "om_nope",
      value: {},
    });
    expect([noMessage.status, noMessage.body.error.code]).toEqual([404, "unknownMessage"]);
    const text = await type(dw, "just text");
    const notCard = await refused("POST", "/api/actions", {
      kind: "button",
      messageId: text.id,
      value: { cb: "x" },
    });
    expect([notCard.status, notCard.body.error.code]).toEqual([409, "notACard"]);
    const badKind = await refused("POST", "/api/actions", { kind: "swipe", messageId: text.id });
    expect(badKind.status).toBe(400);
    const nested = await refused("POST", "/api/actions", {
      kind: "button",
      messageId: text.id,
      value: { a: { b: 1 } },
    });
    expect(nested.status).toBe(400);

    const escape = await refused("GET", "/api/files/tail?path=..%2F..%2Fetc%2Fpasswd", undefined);
    expect([escape.status, escape.body.error.code]).toEqual([400, "invalid"]);
    const other = await refused("GET", "/api/files/tail?path=state%2Fcursors.json", undefined);
    expect(other.status).toBe(400);
    const missing = await refused("GET", "/api/files/tail?path=messages%2Fto-nobody.jsonl", undefined);
    expect([missing.status, missing.body.error.code]).toEqual([404, "unknownFile"]);
    const zero = await refused("GET", "/api/files/tail?path=messages%2Fto-ai-pc.jsonl&lines=0", undefined);
    expect(zero.status).toBe(400);
    const limit = await refused("GET", "/api/messages?limit=lots", undefined);
    expect(limit.status).toBe(400);

    // Only the one "just text" reached the group.
    expect(dw.world.emu.messages(dw.demo.chatId).length).toBe(before + 1);
  });

  it("only pages of this machine are answered, and refusals speak the page's language", async () => {
    const dw = await demoWebWorld();
    // A DNS-rebinding page reaches 127.0.0.1 under its own host name (fetch cannot set Host).
    const host = await new Promise<{ status: number; body: Refusal }>((resolve, reject) => {
      const req = request(`${dw.base}/api/state`, { headers: { Host: "evil.example:8787" } }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Refusal }));
      });
      req.on("error", reject);
      req.end();
    });
    expect([host.status, host.body.error.code]).toEqual([403, "foreignHost"]);
    const origin = await call<Refusal>(
      dw.base,
      "POST",
      "/api/messages",
      { text: "hi" },
      { Origin: "http://evil.example" },
    );
    expect([origin.status, origin.body.error.code]).toEqual([403, "foreignOrigin"]);
    const sameOrigin = await call(
      dw.base,
      "POST",
      "/api/messages",
      { text: "hi" },
      { Origin: new URL(dw.base).origin },
    );
    expect(sameOrigin.status).toBe(201);

    const zh = await call<Refusal>(
      dw.base,
      "POST",
      "/api/messages",
      { text: " " },
      { "Accept-Language": "zh-CN" },
    );
    expect(zh.body.error.message).toBe("请输入文字，或 @ 某人");
    const en = await call<Refusal>(
      dw.base,
      "POST",
      "/api/messages",
      { text: " " },
      { "Accept-Language": "en" },
    );
    expect(en.body.error.message).toBe("write some text or @mention someone");
  });
});
