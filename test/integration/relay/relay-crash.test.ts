import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isoWithOffset } from "../../../src/core/index.js";
import { parseEnvelopeLine } from "../../../src/mailbox/index.js";
import { Outbox } from "../../../src/relay/outbox.js";
import { outboxFileName } from "../../../src/relay/outbox-journal.js";
import { postUuid } from "../../../src/relay/relay-context.js";
import type { DeliveryResult } from "../../../src/sim/feishu/index.js";
import { CRASH_MAILBOX_NODE, crashWorld, type CrashWorld } from "../../helpers/crash-world.js";
import { BridgeRunner } from "../../helpers/bridge-runner.js";
import { sleep, waitFor } from "../../helpers/wait.js";

// The relay's crash test (issue 7 §5). The bridge runs in a child process
// (test/helpers/bridge-process.ts) on a world of ten chats, ten fake gateways and a
// mailbox-only node (test/helpers/crash-world.ts); the emulator and the gateways live here
// and keep running while the bridge is killed with SIGKILL five times and started again on
// the same config, state dir and shared folder. Then: every envelope ran exactly once on its
// node's gateway (by idempotency key; repeated `agent` requests are allowed and counted), every
// inbox line is there once, and every answer or audit line was posted to Feishu once.
//
// Mirroring to chat stays ON, with the limits relaxed instead: the emulator's rate limits are
// off (crash-world.ts) and the bridge's outbound queue does not pace itself
// (`--relax-outbound`), otherwise 10,000 posts at Feishu's 50/s would take minutes.

/** Envelopes in all: half `/tell` from the group, half seed lines in the inboxes. */
const ENVELOPES = 10_000;
const KILLS = 5;
/** Arrivals are spread over this long (~500 a second), so kills land while traffic flows. */
const ARRIVALS_MS = 20_000;
/** A kill comes this long after the bridge said `ready`, drawn at random. */
const KILL_AFTER_MS = { min: 150, max: 3_000 };
/** The whole test, start-up and checks included; vitest's timeout is a little above. */
const BUDGET_MS = 225_000;

interface GroupEnvelope {
  kind: "group";
  marker: string;
  chat: string;
  node: string;
  messageId: string;
  eventId: string;
}

interface MailboxEnvelope {
  kind: "mailbox";
  marker: string;
  from: string;
  node: string;
  /** The id the bridge derives for a line without one. */
  id: string;
}

type Sent = GroupEnvelope | MailboxEnvelope;

function readInbox(world: CrashWorld, file: string): { ids: string[]; bad: string[] } {
  const text = readFileSync(path.join(world.messagesDir, file), "utf8");
  const ids: string[] = [];
  const bad: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const parsed = parseEnvelopeLine(line, file);
    if (parsed.kind === "envelope") ids.push(parsed.envelope.id);
    else bad.push(line);
  }
  if (!text.endsWith("\n")) bad.push("(no newline at the end)");
  return { ids, bad };
}

function countBy<T>(items: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** Warnings and errors the bridge logged, by message, with a count. */
function logProblems(logFile: string): Map<string, number> {
  const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
  return countBy(
    log
      .split("\n")
      .filter(Boolean)
      .flatMap((l) => {
        // A process killed mid-write can leave half a log line; it says nothing about the relay.
        try {
          return [JSON.parse(l) as { level: number; msg: string; err?: { message?: string } }];
        } catch {
          return [];
        }
      })
      .filter((entry) => entry.level >= 40)
      .map((entry) => (entry.err?.message ? `${entry.msg}: ${entry.err.message}` : entry.msg)),
  );
}

const pad = (n: number) => String(n).padStart(5, "0");
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

describe("relay killed with SIGKILL five times under load", () => {
  it(
    "delivers each of 10,000 envelopes from group and mailboxes exactly once, writes each line once, posts each message once",
    async () => {
      const started = Date.now();
      const world = await crashWorld();
      const { emu, nodes, chats } = world;
      const logFile = path.join(world.dir, "bridge.log");
      const bridgeAppId = emu.bridge.appId;

      // What the gateways see: distinct keys (a run starts once per key) and every `agent` request.
      const agentRequests = new Map<string, Map<string, number>>();
      let seenKeys = 0;
      for (const [node, gateway] of world.gateways) {
        const keys = new Set<string>();
        const requests = new Map<string, number>();
        agentRequests.set(node, requests);
        gateway.on("run", (run) => {
          if (run.origin !== "agent") return;
          if (!keys.has(run.idempotencyKey)) seenKeys++;
          keys.add(run.idempotencyKey);
        });
        gateway.on("request", (frame) => {
          if (frame.method !== "agent") return;
          const key = (frame.params as { idempotencyKey?: string } | undefined)?.idempotencyKey ?? "?";
          requests.set(key, (requests.get(key) ?? 0) + 1);
        });
      }

      const runner = new BridgeRunner(world, logFile);
      await runner.start();
      // A trace of progress every 5 s, for the report (and for a timeout's message).
      const trace: string[] = [];
      const sampler = setInterval(() => {
        void runner.relayStats().then((stats) => {
          const pending = stats
            ? Object.values(stats).reduce((n, s) => n + s.pending, 0) +
              ` (mailbox ${stats._mailbox?.pending})`
            : "down";
          trace.push(`${Math.round((Date.now() - started) / 1000)}s keys ${seenKeys} pending ${pending}`);
        });
      }, 5_000);
      let stopTracking = false;
      try {
        // Feishu retries an event until it is acknowledged (code 200); the emulator does not by
        // itself, so every push whose result is not an ack is redelivered under the same event id.
        let unacked = 0;
        let redeliveries = 0;
        const ackCodes = new Map<string, number>();
        const track = (eventId: string, delivered: Promise<DeliveryResult>) => {
          unacked++;
          void delivered.then((result) => {
            unacked--;
            const code = result.via === "websocket" ? String(result.code) : result.via;
            ackCodes.set(code, (ackCodes.get(code) ?? 0) + 1);
            if (result.via === "websocket" && result.code === 200) return;
            if (stopTracking) return;
            redeliveries++;
            track(eventId, emu.redeliver(eventId).delivered);
          });
        };

        // The arrivals: exactly half from the group, in random order, spread over ARRIVALS_MS.
        const kinds = Array.from({ length: ENVELOPES }, (_, i): Sent["kind"] =>
          i % 2 === 0 ? "group" : "mailbox",
        );
        for (let i = kinds.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
        }
        const sent: Sent[] = [];
        const emit = (index: number) => {
          const marker = `crash ${kinds[index] === "group" ? "g" : "m"}-${pad(index)}`;
          const node = pick(nodes);
          if (kinds[index] === "group") {
            const chat = chats[index % chats.length]!;
            const said = emu.say(chat, world.dispatcher, `/tell ${node} ${marker}`, { mentions: ["bridge"] });
            track(said.eventId, said.delivered);
            sent.push({
              kind: "group",
              marker,
              chat,
              node,
              messageId: said.messageId,
              eventId: said.eventId,
            });
            return;
          }
          const from = pick([...nodes.filter((n) => n !== node), CRASH_MAILBOX_NODE]);
          const file = `to-${node}.jsonl`;
          // A seed agent's line: the five fields, one whole line in one write.
          const line = `${JSON.stringify({ from, to: node, timestamp: isoWithOffset(Date.now()), type: "message", content: marker })}\n`;
          appendFileSync(path.join(world.messagesDir, file), line);
          const parsed = parseEnvelopeLine(line, file);
          if (parsed.kind !== "envelope") throw new Error(`a seed line did not parse: ${line}`);
          sent.push({ kind: "mailbox", marker, from, node, id: parsed.envelope.id });
        };
        const arrivalsStarted = Date.now();
        const arrivals = (async () => {
          let next = 0;
          while (next < ENVELOPES) {
            const due = Math.floor(((Date.now() - arrivalsStarted) / ARRIVALS_MS) * ENVELOPES) + 1;
            while (next < Math.min(due, ENVELOPES)) emit(next++);
            // Pacing only; nothing waits on this for correctness.
            await sleep(5);
          }
          return Date.now() - arrivalsStarted;
        })();

        // Five kills at random moments, each followed by a restart on the same config and state.
        const kills: { atMs: number; seenKeys: number; sent: number; restartMs?: number }[] = [];
        for (let k = 0; k < KILLS; k++) {
          await sleep(KILL_AFTER_MS.min + Math.random() * (KILL_AFTER_MS.max - KILL_AFTER_MS.min));
          const result = await runner.kill();
          expect(result.signal, `kill ${k + 1}: ${result.stderr}`).toBe("SIGKILL");
          kills.push({ atMs: Date.now() - started, seenKeys, sent: sent.length });
          await runner.start();
          kills.at(-1)!.restartMs = runner.starts.at(-1);
        }
        const arrivalsMs = await arrivals;

        // Everything that should happen, by where it shows.
        const expectedKeys = new Map<string, Map<string, string>>(nodes.map((n) => [n, new Map()]));
        const expectedLines = new Map<string, Set<string>>();
        const line = (node: string, id: string) => {
          const file = `to-${node}.jsonl`;
          if (!expectedLines.has(file)) expectedLines.set(file, new Set());
          expectedLines.get(file)!.add(id);
        };
        for (const envelope of sent) {
          if (envelope.kind === "group") {
            const id = `fs-${envelope.messageId}`;
            expectedKeys.get(envelope.node)!.set(id, envelope.marker);
            line(envelope.node, id); // the mirror, delivered: "gateway"
            line("clawbridge", `re-${id}`); // the answer to a person goes to the bridge's own inbox
          } else {
            expectedKeys.get(envelope.node)!.set(envelope.id, envelope.marker);
            line(envelope.node, envelope.id); // the seed line itself
            if (envelope.from === CRASH_MAILBOX_NODE) line(envelope.from, `re-${envelope.id}`);
            else {
              // The answer goes into the sender's gateway session and is mirrored into its inbox.
              expectedKeys.get(envelope.from)!.set(`re-${envelope.id}`, "ok");
              line(envelope.from, `re-${envelope.id}`);
            }
          }
        }
        const totalKeys = [...expectedKeys.values()].reduce((n, keys) => n + keys.size, 0);

        const progress = () =>
          `keys ${seenKeys}/${totalKeys}, unacked events ${unacked}, relay ${JSON.stringify(lastStats)}; ` +
          `kills ${JSON.stringify(kills)}; trace ${trace.join(" | ")}; bridge log: ${JSON.stringify(Object.fromEntries(logProblems(logFile)))}`;
        let lastStats: Record<string, { pending: number; inFlight: number }> | undefined;
        const drainStarted = Date.now();
        await waitFor(
          async () => {
            if (unacked > 0 || seenKeys < totalKeys) return false;
            lastStats = await runner.relayStats();
            return lastStats && Object.values(lastStats).every((s) => s.pending === 0 && s.inFlight === 0);
          },
          { timeoutMs: Math.max(1_000, started + BUDGET_MS - Date.now()), intervalMs: 200, what: progress },
        );
        const drainMs = Date.now() - drainStarted;
        stopTracking = true;

        // 1. Gateways: every expected key ran once, nothing else ran; repeated requests are counted.
        let repeatedRequests = 0;
        for (const [node, gateway] of world.gateways) {
          const runs = gateway.runs().filter((r) => r.origin === "agent");
          const byKey = countBy(runs.map((r) => r.idempotencyKey));
          const twice = [...byKey].filter(([, n]) => n > 1).map(([key]) => key);
          expect(twice, `${node}: keys that ran twice`).toEqual([]);
          const expected = expectedKeys.get(node)!;
          const missing = [...expected.keys()].filter((key) => !byKey.has(key));
          const unexpected = [...byKey.keys()].filter((key) => !expected.has(key));
          expect(missing, `${node}: envelopes never delivered`).toEqual([]);
          expect(unexpected, `${node}: runs nobody sent`).toEqual([]);
          for (const run of runs) {
            expect(run.message, `${node}: ${run.idempotencyKey}`).toContain(expected.get(run.idempotencyKey));
          }
          for (const count of agentRequests.get(node)!.values()) repeatedRequests += count - 1;
        }

        // 2. Mailboxes: each line once (seed lines once, each line clawbridge wrote once per id), none torn.
        const inboxFiles = readdirSync(world.messagesDir).filter((f) => /^to-.*\.jsonl$/.test(f));
        expect(inboxFiles.sort()).toEqual([...expectedLines.keys()].sort());
        let lines = 0;
        for (const file of inboxFiles) {
          const { ids, bad } = readInbox(world, file);
          lines += ids.length;
          expect(bad, `${file}: lines that are not envelopes`).toEqual([]);
          const twice = [...countBy(ids)].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
          expect(twice, `${file}: ids written more than once`).toEqual([]);
          const expected = expectedLines.get(file)!;
          const present = new Set(ids);
          expect(
            [...expected].filter((id) => !present.has(id)),
            `${file}: lines missing`,
          ).toEqual([]);
          expect(
            ids.filter((id) => !expected.has(id)),
            `${file}: lines nobody expected`,
          ).toEqual([]);
        }

        // 3. Feishu. Expected per /tell: its answer "[node] ok" in its thread. Per mailbox line: the
        // audit line "[A → B] …" and the audited answer "[B → A] ok", both in the audit chat. Each
        // is looked up by the uuid the relay derives and by where it must be; then no uuid twice,
        // no answer twice in a thread, no audit line twice, and nothing else posted at all.
        const posts = emu.messages().filter((m) => m.senderAppId === bridgeAppId && m.origin === "api");
        const uuidsTwice = [...countBy(posts.map((m) => m.uuid ?? "(none)"))].filter(([, n]) => n > 1);
        expect(uuidsTwice, "uuids posted twice").toEqual([]);
        const byUuid = new Map(posts.map((m) => [m.uuid, m]));
        const answersInThread = countBy(
          posts.filter((m) => m.chatId !== world.auditChat).map((m) => m.parentId),
        );
        const auditTexts = countBy(posts.filter((m) => m.chatId === world.auditChat).map((m) => m.text));
        const postProblems: string[] = [];
        const expectPost = (
          marker: string,
          uuid: string,
          want: { chat: string; text: string; parent?: string },
        ) => {
          const post = byUuid.get(uuid);
          if (!post) return postProblems.push(`${marker}: nothing posted as ${uuid}`);
          const got = {
            chat: post.chatId,
            text: post.text,
            ...(want.parent ? { parent: post.parentId } : {}),
          };
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            postProblems.push(`${marker}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
          }
        };
        for (const envelope of sent) {
          if (envelope.kind === "group") {
            const text = `[${envelope.node}] ok`;
            const parent = envelope.messageId;
            expectPost(envelope.marker, postUuid(`re-fs-${parent}`, "an"), {
              chat: envelope.chat,
              text,
              parent,
            });
            const count = answersInThread.get(parent) ?? 0;
            if (count !== 1) postProblems.push(`${envelope.marker}: ${count} answers in its thread`);
          } else {
            const audit = `[${envelope.from} → ${envelope.node}] ${envelope.marker}`;
            expectPost(envelope.marker, postUuid(envelope.id, "au"), { chat: world.auditChat, text: audit });
            const answer = `[${envelope.node} → ${envelope.from}] ok`;
            expectPost(envelope.marker, postUuid(`re-${envelope.id}`, "an"), {
              chat: world.auditChat,
              text: answer,
            });
            const count = auditTexts.get(audit) ?? 0;
            if (count !== 1) postProblems.push(`${envelope.marker}: audited ${count} times`);
          }
        }
        expect(postProblems, "posts missing, misplaced or repeated").toEqual([]);
        const expectedPosts =
          sent.filter((e) => e.kind === "group").length + 2 * sent.filter((e) => e.kind === "mailbox").length;
        expect(posts, "posts in all").toHaveLength(expectedPosts);

        // 4. The bridge stops cleanly; nothing is left in its outboxes, nothing was quarantined.
        const stopped = await runner.stop();
        expect(stopped.code, stopped.stderr).toBe(0);
        const outboxDir = path.join(world.stateDir, "outbox");
        const targets = [...nodes, "_mailbox", "_chat"];
        const journals = readdirSync(outboxDir);
        expect(journals.sort()).toEqual(targets.map((t) => outboxFileName(t)).sort());
        // A kill during an atomic write leaves its temp file (`.<name>.<pid>.<hex>.tmp`); the
        // next start removes those of writers that are gone, and the last run stopped cleanly.
        const leftoverTempFiles = readdirSync(world.stateDir, { recursive: true, encoding: "utf8" }).filter(
          (f) => f.endsWith(".tmp"),
        );
        expect(leftoverTempFiles).toEqual([]);
        for (const target of targets) {
          const outbox = new Outbox({ dir: outboxDir, target, capacity: 100_000 });
          await outbox.load();
          expect(
            outbox.pending().map((item) => item.id),
            `${target}: left in the outbox`,
          ).toEqual([]);
          await outbox.close();
        }
        const quarantined = readdirSync(world.stateDir)
          .filter((f) => f.startsWith("quarantine"))
          .map((f) => readFileSync(path.join(world.stateDir, f), "utf8"))
          .join("");
        expect(quarantined, "quarantined lines").toBe("");
        const problems = logProblems(logFile);

        console.log(
          JSON.stringify({
            envelopes: sent.length,
            group: sent.filter((e) => e.kind === "group").length,
            mailbox: sent.filter((e) => e.kind === "mailbox").length,
            gatewayRuns: totalKeys,
            inboxLines: lines,
            posts: posts.length,
            kills,
            restartsMs: runner.starts,
            repeatedAgentRequests: repeatedRequests,
            feishuRedeliveries: redeliveries,
            eventResults: Object.fromEntries(ackCodes),
            arrivalsMs,
            drainMs,
            totalMs: Date.now() - started,
            warningsAndErrors: Object.fromEntries(problems),
            leftoverTempFiles,
            trace,
          }),
        );
        expect(Date.now() - started).toBeLessThan(BUDGET_MS);
      } finally {
        // Also on failure: the emulator closes after the test and answers every push "closed".
        stopTracking = true;
        clearInterval(sampler);
      }
    },
    BUDGET_MS + 15_000,
  );
});
