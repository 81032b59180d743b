import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock, silentLogger } from "../../../src/core/index.js";
import type { PostAction, RelayAction } from "../../../src/relay/actions.js";
import { DeadLetterDesk } from "../../../src/relay/dead-letter-desk.js";
import { DeadLetters, readDeadLetters, requestRetry } from "../../../src/relay/dead-letters.js";
import { Outbox, type OutboxItem } from "../../../src/relay/outbox.js";
import type { RelayContext } from "../../../src/relay/relay-context.js";
import { relayMessages } from "../../../src/relay/messages.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

const deliver = (id: string): OutboxItem<RelayAction> => ({
  id,
  payload: {
    kind: "deliver",
    node: "ai-pc",
    sessionKey: "agent:main:clawbridge:from-office-mac",
    mirror: false,
    envelope: {
      id,
      from: "office-mac",
      to: "ai-pc",
      timestamp: "2026-11-25T18:40:00+08:00",
      type: "message",
      content: id,
    },
  },
  enqueuedAt: 0,
  attempts: 0,
});

async function world(stateDir: string) {
  const clock = new ManualClock();
  const outbox = new Outbox<RelayAction>({
    dir: path.join(stateDir, "outbox"),
    target: "ai-pc",
    capacity: 10,
    clock,
  });
  await outbox.load();
  const posts: PostAction[] = [];
  const desk = new DeadLetterDesk({
    stateDir,
    logger: silentLogger(),
    clock,
    locale: "en",
    ctx: { t: relayMessages.t("en"), auditChat: "oc_audit" } as RelayContext,
    outboxes: new Map([["ai-pc", outbox]]),
    post: async (action) => void posts.push(action),
    wake: () => {},
    replayed: new Set(),
  });
  await desk.load();
  return { clock, outbox, desk, posts };
}

const reason = { code: "CB_GATEWAY_REQUEST_FAILED", origin: "gateway", message: { en: "no", "zh-CN": "不" } };

describe("DeadLetterDesk", () => {
  it("moves a failed item out of its outbox into the dead letters and says so once", async () => {
    const dir = tempDir();
    const w = await world(dir);
    await w.outbox.put([deliver("a"), deliver("b")]);
    await w.desk.giveUp("ai-pc", w.outbox.pending()[0]!, new Error("bad"), 1);
    expect(w.outbox.pending().map((i) => i.id)).toEqual(["b"]);
    expect(w.desk.list().map((l) => [l.target, l.id])).toEqual([["ai-pc", "a"]]);
    expect(w.posts).toHaveLength(1);
    expect(w.posts[0]!.text).toContain("clawbridge state retry a");
    await w.desk.stopRetries();
    await w.desk.close();
    await w.outbox.close();
    expect((await readDeadLetters(dir)).map((l) => l.id)).toEqual(["a"]);
  });

  it("finishes a dead-lettering a crash interrupted: the item is taken out of its outbox at start", async () => {
    const dir = tempDir();
    const outbox = new Outbox<RelayAction>({ dir: path.join(dir, "outbox"), target: "ai-pc", capacity: 10 });
    await outbox.load();
    await outbox.put([deliver("a"), deliver("b")]);
    const letters = new DeadLetters({ stateDir: dir });
    await letters.load();
    // Recorded as dead, then the process died before the outbox's `done`.
    await letters.add({
      id: "a",
      target: "ai-pc",
      item: deliver("a"),
      seq: outbox.seqOf("a")!,
      failures: 1,
      reason,
    });
    await letters.close();
    await outbox.close();
    const w = await world(dir);
    expect(w.outbox.pending().map((i) => i.id)).toEqual(["b"]);
    expect(w.desk.list().map((l) => l.id)).toEqual(["a"]);
    await w.desk.close();
    await w.outbox.close();
  });

  it("finishes a retry a crash interrupted: put back but not yet marked, it is no longer dead at start", async () => {
    const dir = tempDir();
    const outbox = new Outbox<RelayAction>({ dir: path.join(dir, "outbox"), target: "ai-pc", capacity: 10 });
    await outbox.load();
    await outbox.put(deliver("a"));
    const seq = outbox.seqOf("a")!;
    await outbox.done("a");
    const letters = new DeadLetters({ stateDir: dir });
    await letters.load();
    await letters.add({ id: "a", target: "ai-pc", item: deliver("a"), seq, failures: 1, reason });
    // The retry's requeue was written, its `retried` mark was not.
    expect(await outbox.requeue(deliver("a"))).toBe("queued");
    await letters.close();
    await outbox.close();
    const w = await world(dir);
    expect(w.outbox.pending().map((i) => i.id)).toEqual(["a"]);
    expect(w.desk.list()).toEqual([]);
    await w.desk.close();
    await w.outbox.close();
  });

  it("carries out retry requests on its clock's poll, and a delivery put back gets a new run key", async () => {
    const dir = tempDir();
    const w = await world(dir);
    await w.outbox.put(deliver("a"));
    await w.desk.giveUp("ai-pc", w.outbox.pending()[0]!, new Error("bad"), 3);
    await w.desk.startRetries();
    await requestRetry(dir, { target: "ai-pc", id: "a", requestedAt: 0 });
    await w.clock.advanceAsync(1_000);
    expect(w.outbox.pending()).toHaveLength(0);
    await w.clock.advanceAsync(1_500);
    // The poll's file work runs on real I/O: wait for it, not for a number of ticks.
    await waitFor(() => w.outbox.pending().length === 1);
    await w.desk.stopRetries();
    const [item] = w.outbox.pending();
    expect(item?.id).toBe("a");
    expect(item?.payload).toMatchObject({ kind: "deliver", retries: 1 });
    expect(w.desk.list()).toEqual([]);
    await w.desk.close();
    await w.outbox.close();
  });
});
