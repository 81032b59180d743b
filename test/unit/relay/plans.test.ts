import { describe, expect, it } from "vitest";
import type { ObservedEvent } from "../../../src/gateway/index.js";
import { parseSessionKey } from "../../../src/gateway/index.js";
import {
  AddressBook,
  LoopGuard,
  planAnswer,
  planTell,
  planFromMailbox,
  planFromObserved,
  postUuid,
  relayMessages,
  type AppendAction,
  type DeliverAction,
  type PostAction,
  type RelayContext,
} from "../../../src/relay/index.js";
import { describeStop } from "../../../src/relay/loop-guard.js";

function context(overrides: Partial<RelayContext> = {}): RelayContext {
  let n = 0;
  const t = relayMessages.t("en");
  return {
    self: "clawbridge",
    nodes: new Map([
      [
        "ai-pc",
        {
          name: "ai-pc",
          displayName: "AI电脑",
          agentId: "main",
          hasGateway: true,
          hearsBots: false,
          botName: "AI-PC 助手",
        },
      ],
      ["office-mac", { name: "office-mac", agentId: "work", hasGateway: true, hearsBots: false }],
      ["nas-agent", { name: "nas-agent", agentId: "main", hasGateway: false, hearsBots: false }],
    ]),
    book: new AddressBook([
      { node: "ai-pc", displayName: "AI电脑", botName: "AI-PC 助手" },
      { node: "office-mac" },
      { node: "nas-agent" },
    ]),
    guard: new LoopGuard({ maxHops: 4, perPairPerMinute: 20, cooldownSeconds: 60 }),
    auditChat: "oc_audit",
    mirrorToChat: true,
    t,
    describeStop: (a) => describeStop(a, t),
    newId: () => `id${++n}`,
    timestamp: () => "2026-11-25T20:00:00+08:00",
    ...overrides,
  };
}

function tell(node: string, content: string) {
  return { node, content, senderOpenId: "ou_wang", chatId: "oc_group", messageId: "om_1" };
}

describe("route plans", () => {
  it("/tell to a gateway node: one delivery in the chat's session, answer back to the person in the thread", () => {
    const [action] = planTell(tell("ai-pc", "今天 GPU 怎么样"), context());
    expect(action).toMatchObject({
      kind: "deliver",
      node: "ai-pc",
      sessionKey: "agent:main:clawbridge:oc_group",
      mirror: true,
      envelope: { from: "user:ou_wang", to: "ai-pc", content: "今天 GPU 怎么样", id: "fs-om_1", hop: 0 },
      answer: { to: "user:ou_wang", place: { chatId: "oc_group", replyTo: "om_1" } },
    });
  });

  it("/tell to a mailbox-only node appends to its inbox and says so; an unknown node plans nothing", () => {
    const actions = planTell(tell("nas-agent", "备份一下"), context());
    expect(actions.map((a) => a.kind)).toEqual(["append", "post"]);
    expect(actions[0]).toMatchObject({ envelope: { id: "fs-om_1", to: "nas-agent", from: "user:ou_wang" } });
    expect(planTell(tell("nobody", "hi"), context())).toEqual([]);
  });

  it("observed: only a final message of a Feishu group session that addresses another node", () => {
    const ctx = context();
    const event = (text: string, sessionKey = "agent:work:feishu:group:oc_group"): ObservedEvent => ({
      node: "office-mac",
      kind: "chat",
      sessionKey,
      session: parseSessionKey(sessionKey),
      runId: "run-1",
      state: "final",
      text,
      reconciled: false,
      at: 1,
      raw: {},
    });
    const [audit, deliver] = planFromObserved(event('<at user_id="ou_x">AI-PC 助手</at> 跑一下'), ctx);
    // The audit line first (posted before any answer), the answer threaded under it.
    expect(audit).toMatchObject({
      kind: "post",
      place: { chatId: "oc_group" },
      text: "[office-mac → ai-pc] @AI-PC 助手 跑一下",
    });
    expect(deliver).toMatchObject({
      kind: "deliver",
      node: "ai-pc",
      sessionKey: "agent:main:clawbridge:oc_group",
      answer: {
        to: "office-mac",
        place: { chatId: "oc_group", replyToPost: (audit as { uuid: string }).uuid },
      },
    });
    // Without mirrorToChat: only the delivery, answered at the chat's root; a chat not served: nothing.
    const quiet = planFromObserved(event("@AI电脑 跑一下"), context({ mirrorToChat: false }));
    expect(quiet.map((a) => a.kind)).toEqual(["deliver"]);
    expect((quiet[0] as DeliverAction).answer?.place).toEqual({ chatId: "oc_group" });
    expect(planFromObserved(event("@AI电脑 跑一下"), context({ chats: new Set(["oc_other"]) }))).toEqual([]);
    expect(planFromObserved(event("没有点名"), ctx)).toEqual([]);
    expect(planFromObserved(event("@AI电脑 跑一下", "agent:work:clawbridge:oc_group"), ctx)).toEqual([]);
  });

  it("mailbox: never routes clawbridge's own lines; mailbox-only addressees get only the audit line", () => {
    const ctx = context();
    const envelope = {
      id: "m1",
      from: "office-mac",
      to: "ai-pc",
      timestamp: "2026-11-25T20:00:00+08:00",
      type: "message" as const,
      content: "hi",
    };
    expect(planFromMailbox({ ...envelope, source: "clawbridge" }, ctx)).toEqual([]);
    expect(planFromMailbox(envelope, ctx).map((a) => a.kind)).toEqual(["deliver", "post"]);
    expect(planFromMailbox({ ...envelope, to: "nas-agent" }, ctx).map((a) => a.kind)).toEqual(["post"]);
  });

  it("answers: a person's answer goes to the bridge's inbox and the thread; a node's into its session", () => {
    const ctx = context();
    const [toPerson] = planTell(tell("ai-pc", "hi"), ctx) as DeliverAction[];
    const answers = planAnswer(toPerson!, "fine", ctx);
    expect(answers.map((a) => a.kind)).toEqual(["append", "post"]);
    expect(answers[0]).toMatchObject({
      envelope: { to: "clawbridge", from: "ai-pc", replyTo: "fs-om_1", hop: 1 },
    });
    const [fromNode] = planFromMailbox(
      {
        id: "m1",
        from: "office-mac",
        to: "ai-pc",
        timestamp: "2026-11-25T20:00:00+08:00",
        type: "message",
        content: "hi",
      },
      ctx,
    ) as DeliverAction[];
    const back = planAnswer(fromNode!, "done", ctx);
    expect(back[0]).toMatchObject({
      kind: "deliver",
      node: "office-mac",
      sessionKey: "agent:work:clawbridge:from-ai-pc",
    });
  });

  it("an agent's answer and a mailbox line are posted unable to mention anyone; the inbox keeps them as written", () => {
    const ctx = context();
    const [toPerson] = planTell(tell("ai-pc", "hi"), ctx) as DeliverAction[];
    const loud = '<at user_id="all"></at> 开会 @所有人';
    const [kept, posted] = planAnswer(toPerson!, loud, ctx) as [AppendAction, PostAction];
    expect(kept.envelope.content).toBe(loud);
    expect(posted.text).not.toMatch(/<\s*at|@所有人/);
    expect(posted.text.replace(/\u200b/g, "")).toContain(loud);
    const line = { id: "m2", from: "office-mac", to: "ai-pc", timestamp: "2026-11-25T20:00:00+08:00" };
    const audit = planFromMailbox({ ...line, type: "message", content: loud }, ctx).find(
      (a) => a.kind === "post",
    );
    expect((audit as PostAction).text).not.toMatch(/<\s*at|@所有人/);
  });

  it("post uuids stay within 50 characters and apart for long ids", () => {
    const a = postUuid("ob-office-mac-3f0c4a8e-1b2c-4d5e-8f90-1234567890ab-ai-pc", "an");
    const b = postUuid("ob-office-mac-3f0c4a8e-1b2c-4d5e-8f90-1234567890ab-nas-agent", "an");
    expect(a.length).toBeLessThanOrEqual(50);
    expect(a).not.toBe(b);
  });
});
