// Longer than our usual file: the relay is where every route's actions meet their outboxes and
// delivery loops, and splitting the execute/perform pair apart would scatter one invariant.
import path from "node:path";
import {
  ClawbridgeError,
  DEFAULT_LOCALE,
  internalError,
  sleep,
  systemClock,
  type Clock,
  type Envelope,
  type JournalFactory,
  type Locale,
  type Logger,
} from "../core/index.js";
import type { Fence } from "../cluster/index.js";
import type { GatewayClient, ObservedEvent } from "../gateway/index.js";
import { IncompleteBatch, type MailboxStore } from "../mailbox/index.js";
import type { RelayAction } from "./actions.js";
import { DeadLetterDesk } from "./dead-letter-desk.js";
import type { DeadLetter } from "./dead-letters.js";
import { DeliveryLoop } from "./delivery-loop.js";
import {
  appendToInboxes,
  deliverToGateway,
  isFinalFailure,
  isRunFailure,
  postToChat,
  type ChatPoster,
} from "./effects.js";
import { fold } from "./fold.js";
import { relayMessages } from "./messages.js";
import { Outbox, type OutboxItem } from "./outbox.js";
import type { OutboxSource as InboxSource } from "./outbox-journal.js";
import type { PutResult } from "./outbox-types.js";
import type { OutboxStore } from "./outbox-store.js";
import { OutboxTailLedger } from "./outbox-tail-ledger.js";
import { LaneEffects } from "./lane-effects.js";
import { planAnswer } from "./plan-answer.js";
import { planTell, type TellRequest } from "./plan-group.js";
import { planFromMailbox } from "./plan-mailbox.js";
import { planFromObserved } from "./plan-observed.js";
import { postUuid, type RelayContext } from "./relay-context.js";
import type { EffectOutcome, EffectRoute, RelayMetricsPort } from "./relay-metrics.js";

export type { ChatPoster } from "./effects.js";

export interface RelayPorts {
  mailbox: MailboxStore;
  gateways: ReadonlyMap<string, GatewayClient>;
  chat?: ChatPoster;
  logger: Logger;
  clock?: Clock;
  metrics?: RelayMetricsPort;
  /**
   * Builds a target's outbox; default: a journal file in `state.dir/outbox` (`Outbox`). The
   * Redis store passes a `RedisOutbox` per target, shared by the replicas.
   */
  outboxes?: (target: string, options: OutboxShape) => OutboxStore<RelayAction>;
  /**
   * Replicas share the outboxes: a target's work is taken only while `claim` holds it (its
   * role's lease), not from the start. Without it every target is this process's.
   */
  claimed?: boolean;
  /** Where the dead letters are kept; default a journal file in `state.dir`. */
  journals?: JournalFactory;
}

/** What the relay asks of each outbox it builds. */
export interface OutboxShape {
  capacity: number;
  laneOf: (action: RelayAction) => string;
  /** A shared store's pause between reads under load (`RedisOutbox` `readLingerMs`); its default when absent. */
  readLingerMs?: number;
}

export interface RelayOptions {
  stateDir: string;
  outboxPerNode: number;
  /** Runs at once per node (each in its own session); default 8. */
  concurrencyPerNode?: number;
  /** How long one delivery may run on a gateway; default 10 minutes. */
  runTimeoutMs?: number;
  /** Language of what the relay says in chats (`feishu.locale`). */
  locale?: Locale;
  /** How often waiting `clawbridge state retry` requests are looked for; default 2 s. */
  retryPollMs?: number;
  /** See `APPEND_LINGER_MS` (its default); tests lengthen it to see the gathering. */
  appendLingerMs?: number;
}

type Work = { id: string; lane: string } & OutboxItem<RelayAction>;

/** The outbox of inbox appends (among replicas: the "inboxes" role's). */
export const MAILBOX_TARGET = "_mailbox";
/** The outbox of chat posts (among replicas: the "chat" role's). */
export const CHAT_TARGET = "_chat";
/** Inbox lines of one lane written in one locked append at most. */
const APPEND_BATCH = 256;
/**
 * An inbox appended to again this soon after its last append waits out the rest of it: under
 * load the lines gather into one locked append (a lock take, a write, a watcher event and a
 * done mark each) instead of a few lines each time. An idle inbox is written at once.
 */
const APPEND_LINGER_MS = 10;
/**
 * Among replicas, the inboxes' writer reads the appends' outbox at most this often under load
 * (the nodes' outboxes: `RedisOutbox`'s default, a few ms). An inbox line is read by an agent
 * polling a file, not awaited within ms; reading less often gathers bigger appends with fewer
 * reads and done marks (ha.throughput: XREADGROUP calls from ~590 to ~250 per 10,000
 * envelopes; the replicas' CPU per envelope 3–10 % lower in six of seven alternating pairs).
 */
const MAILBOX_READ_LINGER_MS = 50;
/** Posts whose message id is kept for a later post to thread under (see `place.replyToPost`). */
const SENT_POSTS_KEPT = 2_000;

/**
 * Carries out what the routes decide, so that nothing is lost and nothing is applied twice:
 * every action first goes into a persisted outbox (one per gateway node, one for inbox
 * appends, one for chat posts), and a delivery loop per outbox works it off — retrying
 * while a node is offline, with the envelope id as the gateway's idempotency key and as
 * Feishu's uuid, so a retry after a crash is harmless. What can never succeed goes to the
 * dead letters (said once in the audit chat) and its lane goes on.
 */
export class Relay {
  private readonly outboxes = new Map<string, OutboxStore<RelayAction>>();
  /** The gateways this process holds (all of them in one process; the owned ones among replicas). */
  private readonly gateways = new Map<string, GatewayClient>();
  private readonly gatewaySubscriptions = new Map<string, (() => void)[]>();
  /** Targets whose work this replica takes now (with `ports.claimed`). */
  private readonly claims = new Set<string>();
  private readonly loops = new Map<string, DeliveryLoop<Work>>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly unsubscribe: (() => void)[] = [];
  /** Items left from before a restart: their effects may have happened already (see appends). */
  private readonly replayed = new Set<string>();
  private readonly laneEffects = new LaneEffects();
  /** Agent runs of a delivery that ended in error, in a row (this process). */
  private readonly failedRuns = new Map<string, number>();
  private readonly desk: DeadLetterDesk;
  /**
   * Message ids of the latest posts by uuid, for posts threaded under an earlier one
   * (`place.replyToPost`). In memory: after a restart such an answer is posted unthreaded.
   */
  private readonly sentPosts = new Map<string, string>();
  /** When each inbox lane last started an append (`performance.now()`), for `APPEND_LINGER_MS`. */
  private readonly lastAppendAt = new Map<string, number>();

  constructor(
    private readonly ctx: RelayContext,
    private readonly ports: RelayPorts,
    private readonly options: RelayOptions,
  ) {
    this.log = ports.logger.child({ component: "relay" });
    this.clock = ports.clock ?? systemClock;
    this.desk = new DeadLetterDesk({
      stateDir: options.stateDir,
      logger: ports.logger,
      clock: this.clock,
      locale: options.locale ?? DEFAULT_LOCALE,
      ctx,
      outboxes: this.outboxes,
      post: (action) => this.execute([action]),
      wake: (target) => this.loops.get(target)?.wake(),
      replayed: this.replayed,
      retryPollMs: options.retryPollMs,
      journal: ports.journals,
    });
  }

  /** The outboxes, for the tail ledger (exactly-once from the inboxes). */
  allOutboxes(): OutboxStore<RelayAction>[] {
    return [...this.outboxes.values()];
  }

  /** The mailbox tailer's ledger: exactly once from the inboxes into these outboxes. */
  tailLedger(): OutboxTailLedger {
    return new OutboxTailLedger(this.options.stateDir, () => this.allOutboxes(), {
      logger: this.ports.logger,
    });
  }

  async start(): Promise<void> {
    const dir = path.join(this.options.stateDir, "outbox");
    // Every node with a gateway has an outbox, whether or not this replica holds its gateway.
    const gatewayNodes = new Set([
      ...[...this.ctx.nodes.values()].filter((n) => n.hasGateway).map((n) => n.name),
      ...this.ports.gateways.keys(),
    ]);
    const targets = [...gatewayNodes, MAILBOX_TARGET, CHAT_TARGET];
    for (const target of targets) {
      const capacity = target.startsWith("_")
        ? Math.max(this.options.outboxPerNode * 10, 10_000)
        : this.options.outboxPerNode;
      const readLingerMs = target === MAILBOX_TARGET ? MAILBOX_READ_LINGER_MS : undefined;
      const outbox =
        this.ports.outboxes?.(target, { capacity, laneOf, ...(readLingerMs ? { readLingerMs } : {}) }) ??
        new Outbox<RelayAction>({
          dir,
          target,
          capacity,
          logger: this.ports.logger,
          clock: this.clock,
          laneOf,
        });
      await outbox.load();
      for (const item of outbox.pending()) this.replayed.add(item.id);
      this.outboxes.set(target, outbox);
    }
    await this.desk.load();
    for (const node of gatewayNodes) {
      this.loop(
        node,
        this.options.concurrencyPerNode ?? 8,
        () => this.gateways.get(node)?.health().state === "connected",
      );
    }
    for (const [node, gateway] of this.ports.gateways) this.attachGateway(node, gateway);
    // One append at a time per inbox (its lane), inboxes in parallel: one shared chain made every
    // mirror and answer of the whole relay wait for the slowest file.
    this.loop(MAILBOX_TARGET, 8, () => true);
    this.loop(CHAT_TARGET, 16, () => this.ports.chat !== undefined);
    await this.desk.startRetries();
    for (const loop of this.loops.values()) loop.wake();
  }

  /**
   * A gateway this process now holds: deliveries to its node may start, and what its agent
   * says is routed. Among replicas, the owner of the node's role attaches it.
   */
  attachGateway(node: string, gateway: GatewayClient): void {
    this.detachGateway(node);
    this.gateways.set(node, gateway);
    const wake = () => this.loops.get(node)?.wake();
    this.gatewaySubscriptions.set(node, [
      gateway.onState(wake),
      // Only final chat messages can address another node (see planFromObserved).
      gateway.observe((event) => void this.handleObserved(event), { kind: "chat", states: ["final"] }),
    ]);
    wake();
  }

  /** The gateway is no longer this process's (its role moved, or the bridge stops). */
  detachGateway(node: string): void {
    for (const off of this.gatewaySubscriptions.get(node) ?? []) off();
    this.gatewaySubscriptions.delete(node);
    this.gateways.delete(node);
  }

  /** The targets this relay has an outbox for: each node with a gateway, `_mailbox`, `_chat`. */
  targets(): string[] {
    return [...this.outboxes.keys()];
  }

  /**
   * With `ports.claimed`: this replica now holds the target's role and takes its work —
   * what the previous owner took and did not finish first (its order kept), then new items.
   */
  async claim(target: string, fence: Fence): Promise<void> {
    const outbox = this.outboxes.get(target);
    const loop = this.loops.get(target);
    if (!outbox || !loop) throw internalError(`no outbox for target ${target}`);
    this.claims.add(target);
    await outbox.consume?.(fence, () => loop.wake());
    loop.wake();
  }

  /**
   * The role moved on (or the bridge stops): no new work starts, what runs is waited for,
   * and what is left stays in the shared outbox for the role's next owner.
   */
  async release(target: string): Promise<void> {
    if (!this.claims.delete(target)) return;
    await this.loops.get(target)?.settle();
    await this.laneEffects.settled();
    await this.outboxes.get(target)?.stopConsuming?.();
  }

  async stop(): Promise<void> {
    for (const node of [...this.gateways.keys()]) this.detachGateway(node);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.desk.stopRetries();
    await Promise.all([...this.loops.values()].map((loop) => loop.stop()));
    // Answers still being written get their done marks before the outboxes close.
    await this.laneEffects.settled();
    await Promise.all([...this.outboxes.values()].map((outbox) => outbox.close()));
    await this.desk.close();
  }

  /**
   * Person → node: the route behind `/tell` (the command layer parses and checks access).
   * Resolves once the delivery is durably queued; says how it goes out.
   */
  async tell(tell: TellRequest): Promise<{ via: "gateway" | "mailbox"; envelopeId: string } | undefined> {
    const actions = planTell(tell, this.ctx);
    if (actions.length === 0) return undefined;
    await this.execute(actions);
    const first = actions[0]!;
    return {
      via: first.kind === "deliver" ? "gateway" : "mailbox",
      envelopeId: first.kind === "post" ? "" : first.envelope.id,
    };
  }

  /**
   * Carries out actions other layers decided (task envelopes and results, chat replies):
   * durably queued in the same outboxes, with the same exactly-once rules.
   */
  submit(actions: RelayAction[]): Promise<void> {
    return this.execute(actions);
  }

  /** Something a node's agent said, seen through its gateway (node ↔ node in the group). */
  async handleObserved(event: ObservedEvent): Promise<void> {
    try {
      await this.execute(planFromObserved(event, this.ctx));
    } catch (error) {
      this.log.error({ err: error, node: event.node }, "could not route an observed message");
    }
  }

  /**
   * Lines of one inbox, in file order (a read chunk); resolves once all their effects are
   * durable. One put per target for the lot, not one per line: among replicas each put is a
   * round trip to Redis. Every put but the last is written first, and the last carries the
   * lines' sources — so a written source still proves every line before it was handled (see
   * `OutboxTailLedger`). An outbox that is full part-way throws `IncompleteBatch` naming the
   * lines before the first one that did not fit: those are done, that one waits in its inbox.
   */
  async handleMailboxLines(lines: readonly { envelope: Envelope; source: InboxSource }[]): Promise<void> {
    const perLine = lines.map(({ envelope }) => this.itemsOf(planFromMailbox(envelope, this.ctx)));
    const groups = new Map<string, { item: OutboxItem<RelayAction>; line: number }[]>();
    let last: string | undefined;
    perLine.forEach((items, line) => {
      for (const { target, item } of items) {
        if (!groups.has(target)) groups.set(target, []);
        groups.get(target)!.push({ item, line });
        last = target;
      }
    });
    if (last === undefined) return;
    const lastTarget = last;
    perLine.forEach((items, line) => {
      const final = items.at(-1);
      if (final && final.target === lastTarget) final.item.source = lines[line]!.source;
    });
    let unfit: { line: number; target: string } | undefined;
    const put = async (target: string, entries: { item: OutboxItem<RelayAction>; line: number }[]) => {
      const results = await this.putItems(
        target,
        entries.map((entry) => entry.item),
      );
      entries.forEach((entry, index) => {
        if (results?.[index] !== "overflow") return;
        this.count(entry.item, "overflow");
        if (!unfit || entry.line < unfit.line) unfit = { line: entry.line, target };
      });
    };
    const earlier = await Promise.allSettled(
      [...groups]
        .filter(([target]) => target !== lastTarget)
        .map(([target, entries]) => put(target, entries)),
    );
    const rejected = earlier.find((outcome) => outcome.status === "rejected");
    if (rejected) throw rejected.reason;
    const firstUnfit = unfit?.line ?? lines.length;
    const final = groups.get(lastTarget)!.filter((entry) => entry.line < firstUnfit);
    if (final.length > 0) await put(lastTarget, final);
    if (unfit)
      throw new IncompleteBatch(unfit.line, this.outboxFull(unfit.target, lines[unfit.line]!.source));
  }

  stats(): Record<string, { pending: number; inFlight: number }> {
    const out: Record<string, { pending: number; inFlight: number }> = {};
    for (const [target, outbox] of this.outboxes) {
      out[target] = { pending: outbox.size, inFlight: this.loops.get(target)?.inFlight ?? 0 };
    }
    return out;
  }

  /** What could never be delivered (`clawbridge state dead-letters` reads the same journal). */
  deadLetterList(): DeadLetter[] {
    return this.desk.list();
  }

  /**
   * Puts every action durably into its outbox, target by target (inbox lines go through
   * `handleMailboxLines`, which also records how far the inbox was read). What finds its
   * outbox full is not queued, and said where it came from.
   */
  private async execute(actions: RelayAction[]): Promise<void> {
    const byTarget = new Map<string, OutboxItem<RelayAction>[]>();
    for (const { target, item } of this.itemsOf(actions)) {
      if (!byTarget.has(target)) byTarget.set(target, []);
      byTarget.get(target)!.push(item);
    }
    for (const [target, items] of byTarget) {
      const results = await this.putItems(target, items);
      const overflowed = items.filter((_, i) => results?.[i] === "overflow");
      for (const item of overflowed) {
        this.count(item, "overflow");
        void this.overflowed(item.payload, this.outboxes.get(target)!.size);
      }
    }
  }

  /** The outbox items of actions, in order, with their targets. */
  private itemsOf(actions: RelayAction[]): { target: string; item: OutboxItem<RelayAction> }[] {
    const now = this.clock.now();
    return actions.map((action) => {
      // What a reply to this envelope will count on (see LoopGuard.hopAfter).
      if (action.kind !== "post" && action.envelope.hop !== undefined) {
        this.ctx.guard.rememberHop(action.envelope.id, action.envelope.hop);
      }
      return {
        target: targetOf(action),
        item: { id: itemId(action), payload: action, enqueuedAt: now, attempts: 0 },
      };
    });
  }

  /** Puts items durably into a target's outbox and wakes its loop; undefined without one. */
  private async putItems(target: string, items: OutboxItem<RelayAction>[]): Promise<PutResult[] | undefined> {
    const outbox = this.outboxes.get(target);
    if (!outbox) {
      this.log.warn({ target }, "no outbox for this target; action dropped");
      return undefined;
    }
    const results = await outbox.put(items);
    this.loops.get(target)?.wake();
    return results;
  }

  /**
   * An inbox line whose effect found its outbox full waits in its inbox instead: the tailer
   * retries it, with backoff, until the outbox has room again. Nothing is dropped.
   */
  private outboxFull(target: string, source: InboxSource): ClawbridgeError {
    const outbox = this.outboxes.get(target)!;
    this.log.warn({ target, inbox: source.inbox, pending: outbox.size }, "outbox full; the inbox line waits");
    const details = { target, pending: outbox.size, capacity: outbox.capacity };
    return new ClawbridgeError("CB_OUTBOX_FULL", relayMessages.text("outboxFullError", details), {
      fix: relayMessages.text("outboxFullFix", { target }),
      details,
    });
  }

  private async overflowed(action: RelayAction, count: number): Promise<void> {
    this.log.error({ action: action.kind, target: targetOf(action), count }, "outbox full; not queued");
    if (action.kind !== "deliver" || !action.answer?.place) return;
    const text = this.ctx.t("outboxFull", {
      node: action.node,
      count,
      content: fold(action.envelope.content, 80),
    });
    await this.execute([
      { kind: "post", place: action.answer.place, text, uuid: postUuid(action.envelope.id, "of") },
    ]);
  }

  private loop(target: string, concurrency: number, available: () => boolean): DeliveryLoop<Work> {
    const outbox = this.outboxes.get(target)!;
    const loop = new DeliveryLoop<Work>({
      name: target,
      logger: this.log,
      concurrency,
      available: () => (!this.ports.claimed || this.claims.has(target)) && available(),
      clock: this.clock,
      // Only each lane's head may start: reading the whole backlog on every wake (each put
      // and each completion) made draining a backlog of thousands quadratic.
      pending: function* () {
        for (const item of outbox.laneHeads()) yield { ...item, lane: laneOf(item.payload) };
      },
      // Appends go by lane (one inbox), in batches; deliveries and posts one at a time.
      work: (item) =>
        item.payload.kind === "append" ? this.appendLane(outbox, item) : this.perform(outbox, item),
      giveUp: async (item, error, failures) => {
        this.failedRuns.delete(item.id);
        await this.desk.giveUp(target, item, error, failures);
        this.count(item, "dead_letter");
      },
      onRetry: (item) => this.count(item, "retried"),
      isFinal: isFinalFailure,
    });
    this.loops.set(target, loop);
    return loop;
  }

  private async perform(outbox: OutboxStore<RelayAction>, item: Work): Promise<void> {
    outbox.attempt(item.id);
    const action = item.payload;
    if (action.kind === "deliver") {
      const failedRuns = this.failedRuns.get(item.id) ?? 0;
      const answer = await deliverToGateway(
        action,
        this.gateways.get(action.node),
        this.ctx.nodes.get(action.node),
        this.options.runTimeoutMs ?? 600_000,
        failedRuns,
      ).catch((error: unknown) => {
        // Only a run the gateway says has failed may be tried under a new key (see idempotencyKey).
        if (isRunFailure(error)) this.failedRuns.set(item.id, failedRuns + 1);
        throw error;
      });
      this.failedRuns.delete(item.id);
      // The folder is the full record: the delivered envelope goes into the addressee's inbox, marked.
      const mirror: RelayAction[] = action.mirror
        ? [{ kind: "append", envelope: { ...action.envelope, source: "clawbridge", delivered: "gateway" } }]
        : [];
      // The lane goes on while they are written; the done mark waits for them (see LaneEffects).
      const lane = `${outbox.target}\u0000${item.lane}`;
      await this.laneEffects.before(lane);
      const effects = this.laneEffects.start(lane, () =>
        this.execute([...mirror, ...planAnswer(action, answer, this.ctx)]),
      );
      this.markDone(outbox, item.id, effects);
    } else if (action.kind === "post") {
      const messageId = await postToChat(this.ports.chat, action, (uuid) => this.sentPosts.get(uuid));
      if (messageId) this.rememberPost(action.uuid, messageId);
      this.markDone(outbox, item.id);
    }
    this.replayed.delete(item.id);
    this.count(item, "delivered");
  }

  /**
   * Marks a delivered item done without holding up its lane: the item leaves its lane at
   * once, and the mark is written once what it led to is durable (`after`, its effects being
   * written; otherwise already). Among replicas that saves every lane a round trip to Redis
   * per item. A mark that is lost (a crash, a lease gone, its effects failed) only brings the
   * item back, and delivering it again is harmless: the gateway knows its idempotency key,
   * Feishu its uuid, and an append looks before it writes.
   */
  private markDone(outbox: OutboxStore<RelayAction>, id: string, after?: Promise<void>): void {
    outbox.done(id, after).catch((error: unknown) => {
      this.log.warn(
        { err: error, target: outbox.target, item: id },
        "could not mark a delivery done; it will be repeated (harmlessly)",
      );
      // Back in its lane: the loop takes it again (or the target's next owner does).
      this.loops.get(outbox.target)?.wake();
    });
  }

  private count(item: OutboxItem<RelayAction>, outcome: EffectOutcome): void {
    const metrics = this.ports.metrics;
    if (!metrics) return;
    const { route, node } = effectOf(item.payload);
    metrics.effect(
      route,
      node,
      outcome,
      outcome === "delivered" ? this.clock.now() - item.enqueuedAt : undefined,
    );
  }

  private rememberPost(uuid: string, messageId: string): void {
    this.sentPosts.set(uuid, messageId);
    if (this.sentPosts.size > SENT_POSTS_KEPT) this.sentPosts.delete(this.sentPosts.keys().next().value!);
  }

  /**
   * Writes the lane's backlog (one inbox) in one locked append: answers to the bridge's own
   * inbox arrive by the thousand under load. When the batch fails, the head is tried alone,
   * so one bad line is judged on its own and never takes the others down with it.
   */
  private async appendLane(outbox: OutboxStore<RelayAction>, head: Work): Promise<void> {
    await this.lingerOnBusyLane(head.lane);
    const items = outbox.laneItems(head.lane, APPEND_BATCH);
    const batch = items.length > 0 && items[0]!.id === head.id ? items : [head];
    const write = async (list: OutboxItem<RelayAction>[]) => {
      for (const item of list) outbox.attempt(item.id);
      await appendToInboxes(
        this.ports.mailbox,
        list.map((item) => ({
          action: item.payload as Extract<RelayAction, { kind: "append" }>,
          // Left from before a restart, or taken over from a lost replica: look before writing.
          replayed: this.replayed.has(item.id) || item.redelivered === true,
        })),
      );
      for (const item of list) this.markDone(outbox, item.id);
      for (const item of list) {
        this.replayed.delete(item.id);
        this.count(item, "delivered");
      }
    };
    if (batch.length === 1) return write(batch);
    try {
      await write(batch);
    } catch (error) {
      this.log.warn(
        { err: error, lane: head.lane, batch: batch.length },
        "batched append failed; trying its head alone",
      );
      await write([head]);
    }
  }

  /**
   * Waits out the linger (`APPEND_LINGER_MS`) since the lane's last append. Real time (`systemClock`), not the
   * relay's clock: it only paces writes, and a test's frozen clock must not stop them.
   */
  private async lingerOnBusyLane(lane: string): Promise<void> {
    const last = this.lastAppendAt.get(lane);
    const linger = this.options.appendLingerMs ?? APPEND_LINGER_MS;
    const wait = last === undefined ? 0 : last + linger - performance.now();
    if (wait > 0) await sleep(systemClock, wait);
    this.lastAppendAt.set(lane, performance.now());
    // One entry per inbox ever appended to: bounded by the mailbox's nodes, but forget old ones.
    if (this.lastAppendAt.size > 1_000) this.lastAppendAt.delete(this.lastAppendAt.keys().next().value!);
  }
}

function targetOf(action: RelayAction): string {
  if (action.kind === "deliver") return action.node;
  return action.kind === "append" ? MAILBOX_TARGET : CHAT_TARGET;
}

function itemId(action: RelayAction): string {
  if (action.kind === "deliver") return action.envelope.id;
  if (action.kind === "append") return `ap-${action.envelope.delivered ? "m-" : ""}${action.envelope.id}`;
  return action.uuid;
}

function effectOf(action: RelayAction): { route: EffectRoute; node: string | undefined } {
  if (action.kind === "deliver") return { route: "gateway", node: action.node };
  if (action.kind === "append") return { route: "mailbox", node: action.envelope.to };
  return { route: "chat", node: undefined };
}

/** Deliveries to one session run in order; appends in file order per inbox; posts in order per chat. */
function laneOf(action: RelayAction): string {
  if (action.kind === "deliver") return action.sessionKey;
  if (action.kind === "append") return action.envelope.to;
  return action.place.chatId;
}
