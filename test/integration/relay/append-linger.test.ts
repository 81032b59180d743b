import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/index.js";
import { silentLogger, type Envelope } from "../../../src/core/index.js";
import type { MailboxStore } from "../../../src/mailbox/index.js";
import {
  createRelay,
  MAILBOX_TARGET,
  Outbox,
  type OutboxShape,
  type Relay,
  type RelayAction,
} from "../../../src/relay/index.js";
import { memoryStore, sharedFixture } from "../../helpers/mailbox.js";
import { waitFor } from "../../helpers/wait.js";

// Appends to one inbox under load gather into one locked append (relay.ts, APPEND_LINGER_MS):
// the test lengthens the linger to a second so the gathering does not depend on timing.
const LINGER_MS = 1_000;

const append = (n: number): RelayAction => ({
  kind: "append",
  envelope: {
    id: `answer-${n}`,
    from: "ai-pc",
    to: "nas-agent",
    timestamp: "2026-12-05T09:00:00+08:00",
    type: "message",
    content: `第 ${n} 条回答`,
  } as Envelope,
});

describe("appends to a busy inbox", () => {
  let relay: Relay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it("are written at once when the inbox was idle, and gathered into one append while it is busy", async () => {
    const fixture = sharedFixture();
    const store = memoryStore(fixture.root, fixture.stateDir);
    // The real store, with its locked appends counted on the way.
    const appends: number[] = [];
    const counted: MailboxStore = Object.assign(Object.create(store) as MailboxStore, {
      appendMany: (envelopes: Parameters<MailboxStore["appendMany"]>[0]) => {
        appends.push(envelopes.length);
        return store.appendMany(envelopes);
      },
    });
    const config = configSchema.parse({
      mailbox: { root: fixture.root },
      state: { dir: fixture.stateDir },
      nodes: [{ name: "nas-agent" }],
    });
    relay = createRelay(
      config,
      { mailbox: counted, gateways: new Map(), logger: silentLogger() },
      { appendLingerMs: LINGER_MS },
    );
    await relay.start();
    const ids = () =>
      existsSync(fixture.inbox("nas-agent"))
        ? readFileSync(fixture.inbox("nas-agent"), "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => (JSON.parse(line) as { id: string }).id)
        : [];

    await relay.submit([append(1)]);
    // Well within the linger: an idle inbox does not wait.
    await waitFor(() => ids().length === 1, { timeoutMs: LINGER_MS / 2, what: "the first answer" });
    // Three more, each on its own, while the inbox was appended to a moment ago.
    for (const n of [2, 3, 4]) await relay.submit([append(n)]);
    await waitFor(() => ids().length === 4, { timeoutMs: 5 * LINGER_MS, what: "all four answers" });

    expect(ids()).toEqual(["answer-1", "answer-2", "answer-3", "answer-4"]);
    expect(appends).toEqual([1, 3]);
  });

  it("among replicas, asks the appends' outbox to be read less often under load than the nodes'", async () => {
    const fixture = sharedFixture();
    const store = memoryStore(fixture.root, fixture.stateDir);
    const config = configSchema.parse({
      mailbox: { root: fixture.root },
      state: { dir: fixture.stateDir },
      // A node with a gateway URL gets an outbox of its own; no token is needed for that.
      nodes: [{ name: "nas-agent" }, { name: "ai-pc", url: "ws://127.0.0.1:1" }],
    });
    // The shapes the relay asks of a shared store; file outboxes stand in for Redis here.
    const shapes = new Map<string, OutboxShape>();
    relay = createRelay(config, {
      mailbox: store,
      gateways: new Map(),
      logger: silentLogger(),
      outboxes: (target, shape) => {
        shapes.set(target, shape);
        return new Outbox<RelayAction>({ dir: fixture.stateDir, target, capacity: shape.capacity });
      },
    });
    await relay.start();

    expect([...shapes.keys()].sort()).toEqual(["_chat", "_mailbox", "ai-pc"]);
    expect(shapes.get(MAILBOX_TARGET)?.readLingerMs).toBe(50);
    expect(shapes.get("ai-pc")?.readLingerMs).toBeUndefined();
    expect(shapes.get("_chat")?.readLingerMs).toBeUndefined();
  });
});
