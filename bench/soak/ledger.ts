import type { RunInfo } from "../../src/sim/fake-gateway.js";
import type { EmulatedMessage } from "../../src/sim/feishu/index.js";
import { cardText, cardTitle } from "../../test/helpers/card-reading.js";
import type { SeenLine } from "./inbox-watch.js";
import { TOKEN_PATTERN } from "./world.js";

/** What the soak sends. */
export type TrafficKind =
  /** A mailbox-only node's line in a gateway node's inbox. */
  | "mailbox"
  /** A mailbox-only node's `task` line in the bridge's inbox (`target` a node or #gpu). */
  | "agentTask"
  /** A person's `/tell <gateway node> …` in a group. */
  | "tell"
  /** A person's `/tell <mailbox-only node> …` in a group. */
  | "tellMailbox"
  /** office-mac's agent addressing ai-pc's bot in its Feishu group session. */
  | "mention"
  /** A person's `/run <gateway node> …`. */
  | "run"
  /** A `/run` whose run takes ~2 s and whose card's Cancel is pressed meanwhile. */
  | "runCancel";

/**
 * What each envelope must cause, counted by id at every destination: runs at the fake
 * gateways (by idempotency key), lines the bridge wrote in the inboxes (by envelope id) and
 * the bridge's posts at the emulator (by `uuid`). Derived from ARCHITECTURE.md "Routes".
 */
const EXPECTED: Record<TrafficKind, { runs: number; lines: number; posts: number }> = {
  // The run; its answer in the sender's inbox.
  mailbox: { runs: 1, lines: 1, posts: 0 },
  // The run; the task mirrored into the node's inbox; the result in the sender's inbox.
  agentTask: { runs: 1, lines: 2, posts: 0 },
  // The run; mirrored into the node's inbox; the answer in the bridge's inbox and as [node] in the thread.
  tell: { runs: 1, lines: 2, posts: 1 },
  // The line in the node's inbox; the notice that it waits there.
  tellMailbox: { runs: 0, lines: 1, posts: 1 },
  // ai-pc's run, then the answer in office-mac's session, both mirrored; the audit line and [ai-pc]'s answer.
  mention: { runs: 2, lines: 2, posts: 2 },
  // The run; the task mirrored; the result in the bridge's inbox; the card and the final message.
  run: { runs: 1, lines: 2, posts: 2 },
  // As `run`, but a cancelled task has no result line.
  runCancel: { runs: 1, lines: 2, posts: 2 },
};

const FINAL_STATES = ["done", "failed", "cancelled", "timed out"];

/** One envelope the soak sent. */
export interface Sent {
  token: string;
  kind: TrafficKind;
  /** Who to whom, for reading the results. */
  route: string;
  /** Epoch ms (`performance.timeOrigin + now`), just before the write or the event. */
  sentAt: number;
  /** What an outage must touch to delay this envelope's first hop (see faults.ts). */
  exposedTo: string[];
  /** The Feishu message a command was said in. */
  messageId?: string;
}

interface Trace {
  sent: Sent;
  runs: Map<string, number>;
  lines: Map<string, number>;
  posts: Map<string, number>;
  /** When the first hop arrived: the first `agent` request at a gateway, or the line in a mailbox-only inbox. */
  arrivedAt?: number;
  /** The first run's key, and how and when it ended at its gateway. */
  firstRun?: { key: string; status?: RunInfo["status"]; endedAt?: number };
  /** When each line the bridge wrote for this envelope was first read, by id. */
  lineAt: Map<string, number>;
  cardId?: string;
  /** The card's states, from creation through every patch (callback: a card-action answer), epoch ms. */
  cardStates: { state: string; via: "created" | "api" | "callback"; at: number }[];
}

export interface Tally {
  lost: number;
  duplicated: number;
  /** What was lost or doubled, the first few. */
  problems: string[];
  /** `agent` requests sent again under a key that already had one (reconnects; not duplicates). */
  resentRequests: number;
  /** Tasks by final state (`run` and `runCancel`). */
  finalStates: Record<string, number>;
  /**
   * Cards that showed a final state, then an earlier one, then a final one again: a stale
   * patch landing after a newer card (the task itself finished once: see its final message).
   */
  cardRegressions: string[];
  /** Tasks cancelled on their card whose run went on to the end at the gateway (not aborted there). */
  cancelledButRanOn: string[];
  /** Commands' own replies besides what they caused (e.g. "office-mac cannot be reached right now"), by text. */
  commandReplies: Record<string, number>;
  /** The bridge's posts that belong to no envelope (health notices), the first few texts. */
  otherPosts: string[];
}

/**
 * Everything the soak sent, and everything that arrived at a destination because of it,
 * traced by the token each envelope carries (answers repeat it: see world.ts).
 */
export class Ledger {
  private readonly traces = new Map<string, Trace>();
  private readonly byCommand = new Map<string, string>();
  private readonly requestKeys = new Set<string>();
  private resent = 0;
  private readonly other: string[] = [];
  /** Commands' own replies, by text (up to the first parenthesis). */
  private readonly replies = new Map<string, number>();
  private otherCount = 0;
  /** Called once when a `runCancel` task's card appears. */
  onCancelCard?: (cardId: string, sent: Sent) => void;

  sent(sent: Sent): void {
    this.traces.set(sent.token, {
      sent,
      runs: new Map(),
      lines: new Map(),
      posts: new Map(),
      lineAt: new Map(),
      cardStates: [],
    });
    if (sent.messageId) this.byCommand.set(sent.messageId, sent.token);
  }

  get size(): number {
    return this.traces.size;
  }

  /** An `agent` request arrived at a fake gateway (`at`: its `received[].at`). */
  gatewayRequest(node: string, key: string, message: string, at: number): void {
    const requestKey = `${node}/${key}`;
    if (this.requestKeys.has(requestKey)) this.resent++;
    this.requestKeys.add(requestKey);
    const trace = this.trace(message);
    if (trace && trace.arrivedAt === undefined) trace.arrivedAt = at;
  }

  run(node: string, run: RunInfo): void {
    const trace = this.trace(run.message);
    if (!trace) return;
    count(trace.runs, `${node}/${run.runId}`);
    trace.firstRun ??= { key: run.runId };
  }

  runEnded(run: RunInfo, at: number): void {
    const trace = this.trace(run.message);
    if (trace?.firstRun?.key !== run.runId) return;
    trace.firstRun.status = run.status;
    trace.firstRun.endedAt = at;
  }

  line({ node, line, at }: SeenLine): void {
    // Lines the soak wrote itself are the envelopes, not what they caused.
    if (line.source !== "clawbridge" || typeof line.id !== "string") return;
    const trace = this.trace(typeof line.content === "string" ? line.content : "");
    if (!trace) return;
    count(trace.lines, `${node}/${line.id}`);
    if (!trace.lineAt.has(line.id)) trace.lineAt.set(line.id, at);
    if (trace.sent.kind === "tellMailbox" && trace.arrivedAt === undefined) trace.arrivedAt = at;
  }

  /** A message the bridge created at the emulator. */
  post(message: EmulatedMessage): void {
    const text = message.msgType === "interactive" ? cardText(message.content) : (message.text ?? "");
    const trace =
      this.trace(text) ??
      (message.parentId ? this.traces.get(this.byCommand.get(message.parentId) ?? "") : undefined);
    if (!trace) {
      this.otherCount++;
      if (this.other.length < 5) this.other.push(text.slice(0, 200));
      return;
    }
    // A command's own reply (`r<n>-<message>`): e.g. that the node cannot be reached now and
    // the message waits for it. Said when it applies; not an effect of the envelope itself.
    if (/^r\d+-/.test(message.uuid ?? "")) {
      count(this.replies, text.split(" (")[0]!.slice(0, 120));
      return;
    }
    count(trace.posts, message.uuid ?? message.messageId);
    if (message.msgType === "interactive" && trace.cardId === undefined) {
      trace.cardId = message.messageId;
      trace.cardStates.push({ state: stateOf(message), via: "created", at: message.createdAt });
      if (trace.sent.kind === "runCancel") this.onCancelCard?.(message.messageId, trace.sent);
    }
  }

  /** A card was patched (by the API or a card-action answer): its state now. */
  patched(message: EmulatedMessage): void {
    const trace = this.trace(cardText(message.content));
    if (!trace || trace.cardId !== message.messageId) return;
    // Read the patches themselves: several may land between two looks.
    trace.cardStates = [
      trace.cardStates[0]!,
      ...message.patches.map((patch) => ({ state: stateOf(patch), via: patch.via, at: patch.at })),
    ];
  }

  /** Whether everything each envelope must cause has arrived. */
  complete(): boolean {
    for (const trace of this.traces.values()) if (!this.done(trace)) return false;
    return true;
  }

  /** How many envelopes still wait for something. */
  waiting(): number {
    let n = 0;
    for (const trace of this.traces.values()) if (!this.done(trace)) n++;
    return n;
  }

  tally(): Tally {
    const problems: string[] = [];
    let lost = 0;
    let duplicated = 0;
    const finalStates: Record<string, number> = {};
    const cancelledButRanOn: string[] = [];
    const cardRegressions: string[] = [];
    for (const trace of this.traces.values()) {
      const { token, kind } = trace.sent;
      const expected = this.expected(trace);
      for (const [what, found] of [
        ["runs", trace.runs],
        ["lines", trace.lines],
        ["posts", trace.posts],
      ] as const) {
        const distinct = found.size;
        const total = [...found.values()].reduce((sum, n) => sum + n, 0);
        const missing = Math.max(0, expected[what] - distinct);
        const extra = total - distinct + Math.max(0, distinct - expected[what]);
        lost += missing;
        duplicated += extra;
        if (missing + extra > 0 && problems.length < 20) {
          const ids = [...found.keys()].map((id) => id.slice(0, 80)).join(", ");
          problems.push(
            `${token} (${kind} ${trace.sent.route}): ${what} ${distinct} distinct of ${expected[what]}, ${total} in all: ${ids}`,
          );
        }
      }
      if (kind === "run" || kind === "runCancel") {
        const states = trace.cardStates.map((c) => c.state);
        const state = states.at(-1) ?? "none";
        finalStates[state] = (finalStates[state] ?? 0) + 1;
        if (!FINAL_STATES.includes(state)) {
          lost++;
          if (problems.length < 20) problems.push(`${token} (${kind}): the card ends ${state}`);
        }
        if (finalTransitions(states) > 1) cardRegressions.push(`${token}: ${describeCard(trace)}`);
        if (state === "cancelled" && trace.firstRun?.status === "ok") cancelledButRanOn.push(token);
      }
    }
    return {
      lost,
      duplicated,
      problems,
      resentRequests: this.resent,
      finalStates,
      cancelledButRanOn,
      cardRegressions,
      commandReplies: Object.fromEntries(this.replies),
      otherPosts: this.otherCount > 0 ? [`${this.otherCount} in all`, ...this.other] : [],
    };
  }

  /** Every envelope's first-hop window (sent → arrived), for those that arrived. */
  firstHops(): { sent: Sent; arrivedAt: number }[] {
    return [...this.traces.values()]
      .filter((t) => t.arrivedAt !== undefined)
      .map((t) => ({ sent: t.sent, arrivedAt: t.arrivedAt! }));
  }

  /** Answers: a run's end at its gateway → the answer line (`re-<key>`) read in an inbox. */
  answers(): { sent: Sent; endedAt: number; arrivedAt: number }[] {
    const out: { sent: Sent; endedAt: number; arrivedAt: number }[] = [];
    for (const trace of this.traces.values()) {
      const endedAt = trace.firstRun?.status === "ok" ? trace.firstRun.endedAt : undefined;
      const arrivedAt = trace.firstRun && trace.lineAt.get(`re-${trace.firstRun.key}`);
      if (endedAt !== undefined && arrivedAt !== undefined)
        out.push({ sent: trace.sent, endedAt, arrivedAt });
    }
    return out;
  }

  private trace(text: string): Trace | undefined {
    const token = TOKEN_PATTERN.exec(text)?.[0];
    return token ? this.traces.get(token) : undefined;
  }

  private expected(trace: Trace) {
    const expected = EXPECTED[trace.sent.kind];
    return trace.cardStates.at(-1)?.state === "cancelled" ? { ...expected, lines: 1 } : expected;
  }

  private done(trace: Trace): boolean {
    const expected = this.expected(trace);
    if (trace.runs.size < expected.runs || trace.lines.size < expected.lines) return false;
    if (trace.posts.size < expected.posts) return false;
    const kind = trace.sent.kind;
    return (
      (kind !== "run" && kind !== "runCancel") || FINAL_STATES.includes(trace.cardStates.at(-1)?.state ?? "")
    );
  }
}

function count(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * A task card's state from its title (`Task T7 · ai-pc · running · 00:03`). Not the tasks
 * bench's `cardState`: its module loads the bridge, and the Feishu SDK loaded after the
 * emulator breaks the emulator's frame codec in this process (see the soak's notes).
 */
function stateOf(card: Pick<EmulatedMessage, "content">): string {
  const parts = cardTitle(card).split(" · ");
  for (const state of ["queued", "running", ...FINAL_STATES]) {
    if (parts.some((part) => part === state || part.startsWith(`${state} `))) return state;
  }
  return parts[2] ?? "?";
}

/** The card's states with how and when each came (ms after its creation). */
function describeCard(trace: Trace): string {
  const created = trace.cardStates[0]?.at ?? 0;
  return trace.cardStates.map((c) => `${c.state} (${c.via} +${Math.round(c.at - created)} ms)`).join(" → ");
}

/** How many times the states go from not final to final. */
function finalTransitions(states: readonly string[]): number {
  let n = 0;
  states.forEach((state, i) => {
    if (FINAL_STATES.includes(state) && (i === 0 || !FINAL_STATES.includes(states[i - 1]!))) n++;
  });
  return n;
}
