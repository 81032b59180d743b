import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock, PersistentIdLog } from "../../../src/core/index.js";
import { EventDedup } from "../../../src/feishu/event-dedup.js";
import { tempDir } from "../../helpers/temp.js";

const content = { senderId: "ou_sender_made_up", chatId: "oc_chat_made_up", text: "/nodes" };

describe("EventDedup", () => {
  it("claims once, answers inflight while handling, duplicate once committed, across restarts", async () => {
    const dir = tempDir();
    const dedup = new EventDedup(dir);
    await dedup.load();
    const key = { eventId: "ev1", messageId: "om_1" };
    expect(dedup.claim(key)).toBe("claimed");
    expect(dedup.claim(key)).toBe("inflight");
    await dedup.commit(key);
    expect(dedup.claim(key)).toBe("duplicate");
    // Feishu's other failure: the same message under a second event id.
    expect(dedup.claim({ eventId: "ev2", messageId: "om_1" })).toBe("duplicate");
    await dedup.close();

    const again = new EventDedup(dir);
    await again.load();
    expect(again.claim({ eventId: "ev1" })).toBe("duplicate");
    expect(again.claim({ eventId: "ev3", messageId: "om_1" })).toBe("duplicate");
    expect(again.claim({ eventId: "ev4", messageId: "om_4" })).toBe("claimed");
  });

  it("lets a released (failed) event be handled again", async () => {
    const dedup = new EventDedup(tempDir());
    await dedup.load();
    const key = { eventId: "ev1", messageId: "om_1", content };
    expect(dedup.claim(key)).toBe("claimed");
    dedup.release(key);
    expect(dedup.claim(key)).toBe("claimed");
  });

  it("drops the same text from the same sender in the same chat within the window only", async () => {
    const clock = new ManualClock(1_000_000);
    const dedup = new EventDedup(tempDir(), { clock, windowMs: 10_000 });
    await dedup.load();
    expect(dedup.claim({ eventId: "a", messageId: "om_a", content })).toBe("claimed");
    clock.advance(9_000);
    expect(dedup.claim({ eventId: "b", messageId: "om_b", content })).toBe("duplicate");
    expect(
      dedup.claim({ eventId: "c", messageId: "om_c", content: { ...content, chatId: "oc_other" } }),
    ).toBe("claimed");
    clock.advance(10_001);
    expect(dedup.claim({ eventId: "d", messageId: "om_d", content })).toBe("claimed");
  });
});

describe("PersistentIdLog", () => {
  it("stays bounded and ignores a torn last line", async () => {
    const dir = tempDir();
    const file = path.join(dir, "ids.log");
    const log = new PersistentIdLog(file, 5);
    await log.load();
    for (let i = 0; i < 60; i++) await log.add(`id${i}`);
    await log.close();
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    expect(lines.length).toBeLessThanOrEqual(50);
    expect(lines.at(-1)).toBe("id59");

    const { appendFileSync } = await import("node:fs");
    appendFileSync(file, "id-torn"); // a crash mid-write
    const reloaded = new PersistentIdLog(file, 5);
    await reloaded.load();
    expect(reloaded.has("id59")).toBe(true);
    expect(reloaded.has("id54")).toBe(false);
    expect(reloaded.has("id-torn")).toBe(false);
    await reloaded.add("next");
    await reloaded.close();
    expect(readFileSync(file, "utf8").endsWith("id59\nnext\n")).toBe(true);
  });
});
