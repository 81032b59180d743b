import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTasks, TaskJournal, type Task } from "../../../src/tasks/index.js";
import { tempDir } from "../../helpers/temp.js";

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

describe("task journal", () => {
  it("keeps the last copy of each task, open ones always, and ids never repeat after a rewrite", async () => {
    const dir = tempDir();
    const journal = new TaskJournal({ stateDir: dir, keepFinished: 3 });
    await journal.load();
    expect(journal.takeSeq()).toBe(1);
    await journal.put(task(1, "running"));
    for (let n = 2; n <= 40; n++) await journal.put(task(journal.takeSeq(), "done"));
    await journal.put({ ...task(1, "running"), output: "half" });
    await journal.close();

    const again = new TaskJournal({ stateDir: dir, keepFinished: 3 });
    await again.load();
    // The open task survives however old; only the newest finished ones are kept.
    expect(again.get("t1")).toMatchObject({ state: "running", output: "half" });
    expect(
      again
        .all()
        .filter((t) => t.state === "done")
        .map((t) => t.id),
    ).toEqual(["T38", "T39", "T40"]);
    expect(again.takeSeq()).toBe(41);
    // A rewrite drops the forgotten tasks and still says which ids are taken.
    await again.compact();
    await again.close();
    const third = new TaskJournal({ stateDir: dir, keepFinished: 3 });
    await third.load();
    // 41 was handed out above (its task never written): it is not handed out again either.
    expect(third.takeSeq()).toBe(42);
    expect((await readTasks(dir)).map((t) => t.id).sort()).toEqual(["T1", "T38", "T39", "T40"]);
    await third.close();
  });

  it("journals at most the end of a long output, and skips a line it cannot read", async () => {
    const dir = tempDir();
    const journal = new TaskJournal({ stateDir: dir });
    await journal.load();
    await journal.put(task(journal.takeSeq(), "done", "x".repeat(100_000)));
    await journal.close();
    const file = path.join(dir, "tasks.jsonl");
    expect(readFileSync(file, "utf8").length).toBeLessThan(20_000);
    appendFileSync(file, '{"op":"task","task":{"id":"nonsense"}}\n');
    const again = new TaskJournal({ stateDir: dir });
    await again.load();
    expect(again.all().map((t) => t.id)).toEqual(["T1"]);
    expect(again.get("T1")!.output.startsWith("…")).toBe(true);
    await again.close();
  });

  it("remembers pairing cards and mailbox threads across a restart until they are dropped", async () => {
    const dir = tempDir();
    const journal = new TaskJournal({ stateDir: dir });
    await journal.load();
    const card = {
      node: "ai-pc",
      requestId: "r1",
      messages: [{ chatId: "oc_a", messageId: "om_1" }],
      connected: false,
    };
    await journal.putPairing(card);
    await journal.putThread({
      envelopeId: "fs-om_9",
      node: "nas-agent",
      chatId: "oc_a",
      replyTo: "om_9",
      at: 1,
    });
    await journal.close();
    const again = new TaskJournal({ stateDir: dir });
    await again.load();
    expect(again.pairingCards()).toEqual([card]);
    expect(again.thread("fs-om_9")).toMatchObject({ node: "nas-agent", replyTo: "om_9" });
    await again.dropPairing("ai-pc");
    await again.closeThread("fs-om_9");
    expect(again.pairingCards()).toEqual([]);
    expect(again.thread("fs-om_9")).toBeUndefined();
    await again.close();
  });
});
