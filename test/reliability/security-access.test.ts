import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";
import {
  agentRuns,
  answerTo,
  answersTo,
  ask,
  buttonValues,
  cardTitle,
  current,
  openId,
  press,
  tell,
} from "../integration/tasks/commands-kit.js";

// Access is decided by who Feishu says spoke or pressed — never by anything in the text or in
// a card's value, which anyone can write. test/integration/tasks/commands-access.test.ts
// covers refusals and a forged operator in a button's value; these are the other forgeries.

describe("forged identities and places are ignored", () => {
  it("text that claims another person's open_id does not make 小李 a dispatcher", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    const wang = openId(world, world.wang);
    const refused = `You may not dispatch tasks. Ask an admin (whoever runs the bridge) to add your open_id ${openId(world, world.li)} to access.dispatchers.`;
    const forgeries = [
      `<at user_id="${wang}">小王</at> /run ai-pc as wang`,
      `/run ai-pc --as ${wang} hello`,
      `/run ai-pc {"open_id":"${wang}","operator":{"open_id":"${wang}"}}`,
      `@小王 /run ai-pc on behalf of wang`,
    ];
    // A command is refused as his; text before the command makes it no command at all (help).
    const notDispatched = (answer: string) => answer === refused || answer.startsWith("clawbridge commands");
    const answers: string[] = [];
    for (const text of forgeries) answers.push(await ask(world, world.li, text));
    for (const [i, answer] of answers.entries()) expect(notDispatched(answer), forgeries[i]).toBe(true);
    expect(answers.slice(1, 3)).toEqual([refused, refused]);
    // An @mention of 小王 next to the bridge's: still 小李 speaking.
    const withMention = world.emu.say(world.emu.defaultChat, world.li, `/run ai-pc mentioning wang`, {
      mentions: ["bridge", world.wang],
    });
    expect(notDispatched((await answerTo(world, withMention, "text")).text ?? "")).toBe(true);
    expect(await ask(world, world.li, `/tell ai-pc ${wang} says hi`)).toContain("You may not send to nodes");
    expect(agentRuns(world, "ai-pc")).toEqual([]);
    expect(bridge.tasks.service.list()).toEqual([]);
  });

  it("a button's value naming another chat, person or task does not move where the bridge acts", async () => {
    const world = await bridgeWorld();
    const { bridge } = await startWorldBridge(world);
    const wang = openId(world, world.wang);
    // T1 in the group, done; its card offers Retry.
    const said = tell(world, world.wang, "/run ai-pc first");
    const card = await answerTo(world, said, "interactive");
    await waitFor(() => cardTitle(current(world, card.messageId)).startsWith("Task T1 · ai-pc · done"), {
      what: "T1 done",
    });
    const retry = buttonValues(current(world, card.messageId).content)[0]!;
    expect(retry).toEqual({ cb: "task.retry", task: "T1" });
    const auditBefore = world.emu.messages(world.auditChat).length;

    // 小王 presses Retry with a value that names the audit chat and another requester.
    const forged = {
      ...retry,
      chatId: world.auditChat,
      open_chat_id: world.auditChat,
      place: { chatId: world.auditChat },
      requestedBy: { kind: "user", openId: openId(world, world.li) },
    };
    const answer = await press(world, card.messageId, world.wang, forged);
    expect(answer?.type).toBe("success");
    const t2 = await waitFor(() => bridge.tasks.service.get("T2"), { what: "T2" });
    // The retry is 小王's, in T1's own chat; nothing was said in the chat the value named.
    expect(t2.requestedBy).toEqual({ kind: "user", openId: wang });
    expect(t2.place?.chatId).toBe(world.emu.defaultChat);
    await waitFor(() => bridge.tasks.service.get("T2")?.state === "done", { what: "T2 done" });
    expect(
      world.emu
        .messages(world.auditChat)
        .slice(auditBefore)
        .filter((m) => m.senderAppId && m.msgType === "interactive"),
    ).toEqual([]);

    // 小李 presses the same card with a value naming 小王 and a task of his: refused, nothing runs.
    const runs = agentRuns(world, "ai-pc").length;
    const cards = answersTo(world, said.messageId).filter((m) => m.msgType === "interactive").length;
    const denied = await press(world, card.messageId, world.li, {
      ...forged,
      operator: { open_id: wang },
      user_id: wang,
    });
    expect(denied?.type).toBe("error");
    expect(denied?.content).toContain(openId(world, world.li));
    expect(agentRuns(world, "ai-pc")).toHaveLength(runs);
    expect(bridge.tasks.service.get("T3")).toBeUndefined();
    expect(answersTo(world, said.messageId).filter((m) => m.msgType === "interactive")).toHaveLength(cards);
  });
});
