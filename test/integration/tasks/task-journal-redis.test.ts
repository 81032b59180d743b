import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Fence } from "../../../src/cluster/fence.js";
import { RedisStore } from "../../../src/cluster/redis-client.js";
import { RedisJournal } from "../../../src/cluster/redis-journal.js";
import { ManualClock, type JournalFactory } from "../../../src/core/index.js";
import type { OutboxItem } from "../../../src/relay/outbox.js";
import { DeadLetters } from "../../../src/relay/dead-letters.js";
import { TaskJournal, type Task } from "../../../src/tasks/index.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/temp.js";

const skip = redisSkipReason();

function task(seq: number, state: Task["state"] = "done", output = ""): Task {
  return {
    id: `T${seq}`,
    seq,
    prompt: `prompt ${seq}`,
    state,
    requestedBy: { kind: "user", openId: "ou_wang" },
    locale: "en",
    envelopeId: `task-${seq}`,
    createdAt: seq,
    output,
  };
}

/** Everything a TaskJournal remembers, in a form that compares. */
function taskView(journal: TaskJournal) {
  return {
    tasks: journal.all(),
    pairing: journal.pairingCards(),
    watches: journal.watches(),
    thread: journal.thread("fs-om_9") ?? null,
    otherThread: journal.thread("fs-om_10") ?? null,
  };
}

/** A task journal's life: tasks beyond the bound, a rewrite, pairing cards, threads, watches. */
async function taskHistory(journal: TaskJournal): Promise<void> {
  await journal.load();
  await journal.put(task(journal.takeSeq(), "running"));
  for (let n = 2; n <= 40; n++) await journal.put(task(journal.takeSeq(), "done"));
  await journal.put({ ...task(1, "running"), output: "half" });
  await journal.putPairing({
    node: "ai-pc",
    requestId: "r1",
    messages: [{ chatId: "oc_a", messageId: "om_1" }],
    connected: false,
  });
  await journal.putPairing({ node: "nas", messages: [], connected: true });
  await journal.putThread({
    envelopeId: "fs-om_9",
    node: "nas-agent",
    chatId: "oc_a",
    replyTo: "om_9",
    at: 1,
  });
  await journal.putThread({
    envelopeId: "fs-om_10",
    node: "nas-agent",
    chatId: "oc_a",
    replyTo: "om_10",
    at: 2,
  });
  await journal.putWatch({ chatId: "oc_a", node: "ai-pc", locale: "en", messageId: "om_w1" });
  await journal.putWatch({ chatId: "oc_b", node: "nas", locale: "zh-CN", messageId: "om_w2" });
  await journal.compact();
  // After the rewrite: changes on top of it, and an id handed out whose task never came.
  await journal.dropPairing("nas");
  await journal.closeThread("fs-om_10");
  await journal.dropWatch("oc_b");
  await journal.put({ ...task(1, "done"), output: "all of it" });
  // Many changes in one turn: group-committed.
  await Promise.all([
    journal.put(task(journal.takeSeq(), "queued")),
    journal.put(task(journal.takeSeq(), "running")),
  ]);
  journal.takeSeq();
  await journal.close();
}

const item = (id: string): OutboxItem<unknown> => ({
  id,
  payload: { kind: "deliver", node: "ai-pc", content: id },
  enqueuedAt: 0,
  attempts: 2,
});
const reason = { code: "CB_GATEWAY_REQUEST_FAILED", origin: "gateway", message: { en: "no", "zh-CN": "不" } };

/** Dead letters given up, one put back, past capacity (the oldest forgotten). */
async function letterHistory(letters: DeadLetters, clock: ManualClock): Promise<void> {
  await letters.load();
  for (const id of ["a", "b", "c", "d", "e"]) {
    clock.advance(1_000);
    await letters.add({ id, target: "ai-pc", item: item(id), seq: id.charCodeAt(0), failures: 3, reason });
  }
  await letters.retried("ai-pc", "b");
  await letters.add({ id: "a", target: "_chat", item: item("a"), seq: 9, failures: 1, reason });
  await letters.close();
}

describe.skipIf(skip)(
  "the task journal and dead letters in Redis: a successor recovers as after a restart",
  () => {
    let redis: RedisServer;
    let prefixes = 0;

    beforeAll(async () => {
      redis = await startRedis();
    });

    async function connect(keyPrefix: string, name: string): Promise<RedisStore> {
      const store = new RedisStore({ url: redis.url, keyPrefix, name });
      onTestFinished(() => store.close());
      await store.ready();
      return store;
    }

    /** Replica `name` holding the role `role` (the lease key now holds its value), as a journal factory. */
    async function replica(keyPrefix: string, name: string, token: number, role?: string) {
      const store = await connect(keyPrefix, name);
      let fence: Fence | undefined;
      if (role) {
        const key = `${keyPrefix}lease:${role}`;
        await store.client.set(key, `${name}|${token}`);
        fence = { key, value: `${name}|${token}`, token, held: () => true };
      }
      const journals: JournalFactory = (options) =>
        new RedisJournal(store, { ...options, name: options.kind, ...(fence ? { fence: () => fence } : {}) });
      return { store, journals };
    }

    it("a TaskJournal: the successor replica loads what the file journal's next start loads", async () => {
      const keyPrefix = `tasks-test-${++prefixes}:`;
      const dir = tempDir();
      await taskHistory(new TaskJournal({ stateDir: dir, keepFinished: 3 }));
      const first = await replica(keyPrefix, "r1", 1, "tasks");
      await taskHistory(new TaskJournal({ stateDir: tempDir(), keepFinished: 3, journal: first.journals }));

      // r2 takes the tasks role over (r1 was paused past its lease).
      const second = await replica(keyPrefix, "r2", 2, "tasks");
      const successor = new TaskJournal({ stateDir: tempDir(), keepFinished: 3, journal: second.journals });
      await successor.load();
      const restarted = new TaskJournal({ stateDir: dir, keepFinished: 3 });
      await restarted.load();
      expect(taskView(successor)).toEqual(taskView(restarted));
      expect(successor.get("T1")).toMatchObject({ state: "done", output: "all of it" });
      expect(successor.all().map((t) => t.id)).toEqual(["T39", "T40", "T1", "T41", "T42"]);
      expect(successor.pairingCards().map((c) => c.node)).toEqual(["ai-pc"]);
      expect(successor.watches().map((w) => w.chatId)).toEqual(["oc_a"]);
      expect(successor.thread("fs-om_10")).toBeUndefined();
      // 43 was handed out before the handover (its task never written): ids never repeat.
      expect(successor.takeSeq()).toBe(restarted.takeSeq());
      expect(await second.store.client.exists(`${keyPrefix}journal:tasks:header`)).toBe(1);

      // The successor writes on; the replica that lost the role cannot.
      await successor.put(task(successor.takeSeq(), "queued"));
      const stale = new TaskJournal({ stateDir: tempDir(), keepFinished: 3, journal: first.journals });
      await stale.load();
      await expect(stale.put(task(99, "queued"))).rejects.toThrow(/^FENCED/);
      expect(stale.get("T99")).toBeUndefined();
      await Promise.all([successor.close(), restarted.close(), stale.close()]);
    });

    it("DeadLetters: the next replica to load them sees what the file's next start sees", async () => {
      const keyPrefix = `letters-test-${++prefixes}:`;
      const dir = tempDir();
      const fileClock = new ManualClock();
      await letterHistory(new DeadLetters({ stateDir: dir, capacity: 4, clock: fileClock }), fileClock);
      // Given up by r1, which does not hold any role: dead letters are written by whoever gives up.
      const first = await replica(keyPrefix, "r1", 1);
      const clock = new ManualClock();
      await letterHistory(
        new DeadLetters({ stateDir: tempDir(), capacity: 4, clock, journal: first.journals }),
        clock,
      );

      const second = await replica(keyPrefix, "r2", 2);
      const successor = new DeadLetters({ stateDir: tempDir(), capacity: 4, journal: second.journals });
      await successor.load();
      const restarted = new DeadLetters({ stateDir: dir, capacity: 4 });
      await restarted.load();
      expect(successor.list()).toEqual(restarted.list());
      expect(successor.list().map((l) => `${l.target}/${l.id}`)).toEqual([
        "ai-pc/c",
        "ai-pc/d",
        "ai-pc/e",
        "_chat/a",
      ]);
      expect(successor.get("ai-pc", "b")).toBeUndefined();
      await Promise.all([successor.close(), restarted.close()]);
    });
  },
);
