import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import {
  FsMailboxStore,
  MemoryTailLedger,
  type EnvelopeMeta,
  type QuarantineRecord,
} from "../../src/mailbox/index.js";
import type { Envelope } from "../../src/core/index.js";
import { CallbackQuarantine } from "../../src/mailbox/index.js";
import { tempDir } from "./temp.js";

/** A seed-format line, as an agent would write it. */
export function seedLine(
  from: string,
  to: string,
  content: string,
  timestamp = "2026-02-14T18:40:00+08:00",
): string {
  return JSON.stringify({ from, to, timestamp, type: "message", content });
}

/** A shared root with the seed layout, a state dir and a store; the root path has Chinese and spaces. */
export function sharedFixture(rootName = "共享 盘/Openclaw-Shared") {
  const base = tempDir();
  const root = path.join(base, rootName);
  mkdirSync(path.join(root, "messages"), { recursive: true });
  const stateDir = path.join(base, "state");
  const inbox = (node: string) => path.join(root, "messages", `to-${node}.jsonl`);
  const write = (node: string, text: string | Buffer) => appendFileSync(inbox(node), text);
  return { base, root, stateDir, inbox, write };
}

/** A collector for a tailer: what it emitted and what it quarantined. */
export function collector() {
  const envelopes: { envelope: Envelope; meta: EnvelopeMeta }[] = [];
  const quarantined: QuarantineRecord[] = [];
  return {
    envelopes,
    quarantined,
    handler: (envelope: Envelope, meta: EnvelopeMeta) => {
      envelopes.push({ envelope, meta });
    },
    quarantine: new CallbackQuarantine((record) => quarantined.push(record)),
    ids: () => envelopes.map((e) => e.envelope.id),
    contents: () => envelopes.map((e) => e.envelope.content),
  };
}

export function memoryStore(root: string, stateDir: string, watch: "native" | "poll" = "native") {
  return new FsMailboxStore({
    root,
    self: "clawbridge",
    stateDir,
    watch,
    pollMs: 100,
    maxLineBytes: 1024 * 1024,
  });
}

export { MemoryTailLedger };

/** Starts a tailer that reads every inbox from the start into a collector, keeping its cursors in memory. */
export function tailInto(store: FsMailboxStore, c: ReturnType<typeof collector>) {
  return store.tail({
    handler: c.handler,
    quarantine: c.quarantine,
    ledger: new MemoryTailLedger(),
    startAt: "start",
  });
}
