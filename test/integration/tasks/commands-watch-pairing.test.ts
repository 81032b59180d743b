import { describe, expect, it } from "vitest";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../../helpers/bridge.js";
import { sleep, waitFor } from "../../helpers/wait.js";
import { WarpClock } from "../../helpers/warp-clock.js";
import { answersTo, answerTo, ask, cardText, cardTitle, current, tell } from "./commands-kit.js";

/** The gateway client asks again this often while pairing is pending (its default). */
const PAIRING_RETRY_MS = 15_000;

/** Runs `/run <node> <prompt>` as 小王 and waits for the task to end (its final message). */
async function runToEnd(world: BridgeWorld, node: string, prompt: string) {
  const said = tell(world, world.wang, `/run ${node} ${prompt}`);
  await answerTo(world, said, "interactive");
  return waitFor(() => answersTo(world, said.messageId).find((m) => m.msgType === "text"), {
    what: `the end of "${prompt}"`,
  });
}

describe("/watch", () => {
  it("follows the node's tasks and relayed conversations in one card until /unwatch", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: { kind: "echo", chunks: 2, delayMs: 2 } } },
    });
    await startWorldBridge(world);
    const watch = await answerTo(world, tell(world, world.li, "/watch ai-pc"), "interactive");
    expect(cardTitle(watch)).toBe("Watching ai-pc");
    expect(cardText(watch.content)).toContain("Nothing from ai-pc yet.");

    // Another node's task is not ai-pc's business; ai-pc's own task is shown with its output.
    await runToEnd(world, "office-mac", "别的节点的任务");
    await runToEnd(world, "ai-pc", "关注中的任务");
    await waitFor(() => cardText(current(world, watch.messageId).content).includes("T2 · 关注中的任务"), {
      what: "the task on the watch card",
    });
    await waitFor(() => /echo: .*\n\n关注中的任务/.test(cardText(current(world, watch.messageId).content)), {
      what: "the task's output on the watch card",
    });
    expect(cardText(current(world, watch.messageId).content)).not.toContain("别的节点的任务");

    // A conversation relayed to ai-pc (/tell) shows up too, seen through its gateway.
    const told = tell(world, world.wang, "/tell ai-pc 关注里的对话");
    await waitFor(() => answersTo(world, told.messageId).some((m) => m.text?.startsWith("[ai-pc]")));
    await waitFor(
      () => {
        const text = cardText(current(world, watch.messageId).content);
        return text.includes("Conversation") && text.includes("关注里的对话");
      },
      { what: "the conversation on the watch card" },
    );
    expect(current(world, watch.messageId).patches.every((p) => p.via === "api")).toBe(true);

    expect(await ask(world, world.li, "/unwatch")).toBe("Stopped watching ai-pc.");
    await waitFor(() => cardTitle(current(world, watch.messageId)) === "Stopped watching ai-pc", {
      what: "the watch card saying it stopped",
    });
    const stopped = current(world, watch.messageId);
    expect(cardText(stopped.content)).not.toContain("/unwatch stops this");

    // Later runs leave the stopped card alone (a patch would come within a second).
    await runToEnd(world, "ai-pc", "之后的任务");
    await sleep(1_500);
    const after = current(world, watch.messageId);
    expect(after.patches).toHaveLength(stopped.patches.length);
    expect(cardText(after.content)).not.toContain("之后的任务");
  });
});

describe("/watch across a restart", () => {
  it("goes on in the same card after the bridge restarts; /unwatch then stops it and it stays stopped", async () => {
    const world = await bridgeWorld({
      gateways: { "ai-pc": { script: { kind: "echo", chunks: 2, delayMs: 2 } } },
    });
    const first = await startWorldBridge(world);
    const watch = await answerTo(world, tell(world, world.li, "/watch ai-pc"), "interactive");
    expect(await first.bridge.stop(5_000)).toBe(true);

    const second = await startWorldBridge(world);
    await runToEnd(world, "ai-pc", "重启后的任务");
    await waitFor(() => cardText(current(world, watch.messageId).content).includes("重启后的任务"), {
      what: "the task after the restart on the old watch card",
    });
    expect(cardTitle(current(world, watch.messageId))).toBe("Watching ai-pc");
    expect(await ask(world, world.li, "/unwatch")).toBe("Stopped watching ai-pc.");

    // Unwatched is unwatched for good: the next start does not follow ai-pc for this chat.
    expect(await second.bridge.stop(5_000)).toBe(true);
    await startWorldBridge(world);
    expect(await ask(world, world.li, "/unwatch")).toBe("Nothing is watched in this chat.");
  });
});

describe("pairing", () => {
  it("one card in the audit chat, patched when the request id changes, turning connected once approved", async () => {
    const world = await bridgeWorld({ gateways: { "ai-pc": { requirePairing: true, pairingTtlMs: 1_500 } } });
    const clock = new WarpClock();
    const gateway = world.gateways["ai-pc"];
    // The client closes a refused connection after it has set its timer for the next try.
    let refused = 0;
    gateway.on("disconnect", () => refused++);
    await startWorldBridge(world, { clock });
    const pairingCards = () =>
      world.emu.messages(world.auditChat).filter((m) => m.msgType === "interactive" && m.senderAppId);
    const pending = () => gateway.pendingPairings()[0];
    const nextTry = async (what: string) => {
      const before = refused;
      clock.warp(PAIRING_RETRY_MS);
      await waitFor(() => refused > before, { what });
    };

    const first = await waitFor(() => pending(), { what: "a pairing request at ai-pc" });
    const card = await waitFor(() => pairingCards()[0], { what: "the pairing card" });
    expect(cardTitle(card)).toBe("ai-pc needs pairing");
    expect(cardText(card.content)).toContain(
      `openclaw devices approve ${first.requestId} --url ws://127.0.0.1:`,
    );
    expect(world.emu.messages(world.emu.defaultChat).filter((m) => m.msgType === "interactive")).toEqual([]);

    // /nodes says so too, with the command.
    const nodes = await answerTo(world, tell(world, world.li, "/nodes"), "interactive");
    expect(cardText(nodes.content)).toContain("ai-pc · <font color='orange'>needs pairing</font>");
    expect(cardText(nodes.content)).toContain(`openclaw devices approve ${first.requestId}`);

    // The bridge keeps asking (the same request): still that one card.
    await waitFor(() => refused > 0, { what: "the first refusal" });
    for (let retry = 1; retry <= 3; retry++) {
      const seen = pending()!.lastSeenAt;
      await nextTry(`retry ${retry}`);
      expect(pending()!.lastSeenAt).toBeGreaterThan(seen);
      expect(pending()!.requestId).toBe(first.requestId);
    }

    // Nobody approved within the request's lifetime: a new request id, the same card patched.
    await sleep(1_700);
    expect(gateway.pendingPairings()).toEqual([]);
    await nextTry("the try after the request expired");
    const second = await waitFor(() => pending(), { what: "a new pairing request" });
    expect(second.requestId).not.toBe(first.requestId);
    await waitFor(() => cardText(current(world, card.messageId).content).includes(second.requestId), {
      what: "the card patched with the new request id",
    });
    expect(cardText(current(world, card.messageId).content)).not.toContain(first.requestId);
    expect(current(world, card.messageId).patches).toHaveLength(1);
    expect(pairingCards().map((m) => m.messageId)).toEqual([card.messageId]);

    // Approved on ai-pc: the next try connects, and the card says so.
    expect(gateway.approve(second.requestId)).toBe(true);
    clock.warp(PAIRING_RETRY_MS);
    await waitFor(() => cardTitle(current(world, card.messageId)) === "ai-pc is connected", {
      what: "the card turning connected",
    });
    expect(pairingCards().map((m) => m.messageId)).toEqual([card.messageId]);
    // (小王 asks this time: the same text from the same person within 10 s is taken for a
    // Feishu duplicate delivery.)
    const after = await answerTo(world, tell(world, world.wang, "/nodes"), "interactive");
    expect(cardText(after.content)).toContain("ai-pc · <font color='green'>online</font>");
    expect(cardText(after.content)).not.toContain("openclaw devices approve");
  });
});
