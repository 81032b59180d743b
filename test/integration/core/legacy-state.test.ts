import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FileQuarantine } from "../../../src/mailbox/index.js";
import { bridgeWorld, startWorldBridge } from "../../helpers/bridge.js";
import { waitFor } from "../../helpers/wait.js";

// A state folder as the previous release wrote it: the same records, but no header line.
function writePreviousReleaseState(stateDir: string, inbox: string, inboxBytes: number): void {
  const write = (file: string, lines: string[]) => {
    mkdirSync(path.dirname(path.join(stateDir, file)), { recursive: true });
    writeFileSync(path.join(stateDir, file), lines.map((line) => `${line}\n`).join(""));
  };
  const envelope = {
    id: "legacy-envelope-1",
    from: "office-mac",
    to: "ai-pc",
    timestamp: "2026-11-25T18:40:00+08:00",
    type: "message",
    content: "left in the outbox by the previous release",
  };
  write("outbox/ai-pc.jsonl", [
    JSON.stringify({
      op: "put",
      seq: 1,
      item: {
        id: envelope.id,
        payload: {
          kind: "deliver",
          node: "ai-pc",
          envelope,
          sessionKey: "agent:main:clawbridge:from-office-mac",
          mirror: false,
          answer: { to: "office-mac" },
        },
        enqueuedAt: 1_764_000_000_000,
        attempts: 0,
      },
    }),
  ]);
  write("feishu/events.log", ["e:ev_old_1", "m:om_old_1"]);
  write("mailbox/delivered/to-ai-pc.jsonl.log", [`old-line-1 ${inboxBytes}`]);
  write("mailbox/outbox-ledger.jsonl", [JSON.stringify({ inbox, id: "old-line-1", end: inboxBytes })]);
  write("quarantine.jsonl", [
    JSON.stringify({
      at: "2026-11-25T18:40:00+08:00",
      file: inbox,
      offset: 0,
      length: 5,
      reason: "invalid JSON",
    }),
  ]);
  writeFileSync(
    path.join(stateDir, "mailbox", "cursors.json"),
    JSON.stringify({ [inbox]: { offset: inboxBytes } }),
  );
}

describe("a state folder written by the previous release", () => {
  it("keeps working: its journals are migrated once, with a log line, and what they held is honoured", async () => {
    const world = await bridgeWorld();
    const inboxFile = path.join(world.root, "messages", "to-ai-pc.jsonl");
    const old = `${JSON.stringify({ from: "office-mac", to: "ai-pc", timestamp: "t", type: "message", content: "old" })}\n`;
    writeFileSync(inboxFile, old);
    writePreviousReleaseState(world.stateDir, "to-ai-pc.jsonl", Buffer.byteLength(old));

    const { sink } = await startWorldBridge(world);
    // The delivery the previous release had queued is carried out.
    const run = await waitFor(() =>
      world.gateways["ai-pc"]
        .runs()
        .find((r) => r.message.includes("left in the outbox by the previous release")),
    );
    expect(run.idempotencyKey).toBe("legacy-envelope-1");
    // The inbox line it had read is not read again.
    expect(world.gateways["ai-pc"].runs().some((r) => r.message.endsWith("\nold"))).toBe(false);
    const migrated = sink.records().filter((r) => String(r.msg).includes("migrated to the current format"));
    expect(migrated.map((r) => r.kind).sort()).toEqual(
      expect.arrayContaining(["delivered", "ids", "outbox", "outbox-ledger"]),
    );
    // Each file now starts with its header.
    const first = (file: string) => readFileSync(path.join(world.stateDir, file), "utf8").split("\n")[0];
    expect(first("outbox/ai-pc.jsonl")).toBe('{"journal":"outbox","version":1}');
    expect(first("feishu/events.log")).toBe('{"journal":"ids","version":1}');
    expect(first("mailbox/outbox-ledger.jsonl")).toBe('{"journal":"outbox-ledger","version":1}');
    // The quarantine is read as it is (doctor counts it) until the next bad line is added.
    expect(await FileQuarantine.count(world.stateDir)).toBe(1);
  }, 60_000);
});
