import path from "node:path";
import { ClawbridgeError, type Envelope, type Logger } from "../core/index.js";
import type { InboundChatMessage } from "../feishu/index.js";
import type { GatewayClient, ObservedEvent } from "../gateway/index.js";
import type { MailboxStore } from "../mailbox/index.js";
import type { AppendAction, DeliverAction, PostAction, RelayAction } from "./actions.js";
import { DeliveryLoop } from "./delivery-loop.js";
import { Outbox, type OutboxItem } from "./outbox.js";
import { planAnswer } from "./plan-answer.js";
import { planFromGroup } from "./plan-group.js";
import { planFromMailbox } from "./plan-mailbox.js";
import { planFromObserved } from "./plan-observed.js";
import { inboxContainsId } from "./inbox-contains.js";
import { fold } from "./fold.js";
import { postUuid, type RelayContext } from "./relay-context.js";

/** Where posts go: the Feishu outbound queue (or nothing, without Feishu). */
export interface ChatPoster {
  send(request: {
    chatId: string;
    content: { kind: "text"; text: string };
    replyTo?: string;
    uuid?: string;
  }): Promise<unknown>;
}

export interface RelayPorts {
  mailbox: MailboxStore;
  gateways: ReadonlyMap<string, GatewayClient>;
  chat?: ChatPoster;
  logger: Logger;
}

export interface RelayOptions {
  stateDir: string;
  outboxPerNode: number;
  /** Runs at once per node (each in its own session); default 8. */
  concurrencyPerNode?: number;
  /** How long one delivery may run on a gateway; default 10 minutes. */
  runTimeoutMs?: number;
}

type Work = { id: string; lane: string } & OutboxItem<RelayAction>;

const MAILBOX_TARGET = "_mailbox";
const CHAT_TARGET = "_chat";

/**
 * Carries out what the routes decide, so that nothing is lost and nothing is applied twice:
 * every action first goes into a persisted outbox (one per gateway node, one for inbox
 * appends, one for chat posts), and a delivery loop per outbox works it off — retrying
 * while a node is offline, with the envelope id as the gateway's idempotency key and as
 * Feishu's uuid, so a retry after a crash is harmless.
 */
export class Relay {
  private readonly outboxes = new Map<string, Outbox<RelayAction>>();
  private readonly loops = new Map<string, DeliveryLoop<Work>>();
  private readonly log: Logger;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly replayed = new Set<string>();

  constructor(
    private readonly ctx: RelayContext,
    private readonly ports: RelayPorts,
    private readonly options: RelayOptions,
  ) {
    this.log = ports.logger.child({ component: "relay" });
  }

  /** The outboxes, for the tail ledger (exactly-once from the inboxes). */
  allOutboxes(): Outbox<RelayAction>[] {
    return [...this.outboxes.values()];
  }

  async start(): Promise<void> {
    const dir = path.join(this.options.stateDir, "outbox");
    const targets = [...this.ports.gateways.keys(), MAILBOX_TARGET, CHAT_TARGET];
    for (const target of targets) {
      const capacity = target.startsWith("_")
        ? Math.max(this.options.outboxPerNode * 10, 10_000)
        : this.options.outboxPerNode;
      const outbox = new Outbox<RelayAction>({ dir, target, capacity, logger: this.ports.logger, laneOf });
      await outbox.load();
      // Left from before a restart: their effects may have happened already (see `append`).
      for (const item of outbox.pending()) this.replayed.add(item.id);
      this.outboxes.set(target, outbox);
    }
    for (const [node, gateway] of this.ports.gateways) {
      const loop = this.loop(
        node,
        this.options.concurrencyPerNode ?? 8,
        () => gateway.health().state === "connected",
      );
      this.unsubscribe.push(gateway.onState(() => loop.wake()));
      this.unsubscribe.push(gateway.observe((event) => void this.handleObserved(event)));
    }
    // One append at a time per inbox (its lane), inboxes in parallel: one shared chain made every
    // mirror and answer of the whole relay wait for the slowest file.
    this.loop(MAILBOX_TARGET, 8, () => true);
    this.loop(CHAT_TARGET, 16, () => this.ports.chat !== undefined);
    for (const loop of this.loops.values()) loop.wake();
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.all([...this.loops.values()].map((loop) => loop.stop()));
    await Promise.all([...this.outboxes.values()].map((outbox) => outbox.close()));
  }

  /** A chat message from Feishu (person → node). */
  handleGroupMessage(message: InboundChatMessage): Promise<void> {
    return this.execute(planFromGroup(message, this.ctx));
  }

  /** Something a node's agent said, seen through its gateway (node ↔ node in the group). */
  async handleObserved(event: ObservedEvent): Promise<void> {
    try {
      await this.execute(planFromObserved(event, this.ctx));
    } catch (error) {
      this.log.error({ err: error, node: event.node }, "could not route an observed message");
    }
  }

  /** A line from an inbox; resolves once its effects are durable (then the tailer may move on). */
  handleMailbox(envelope: Envelope, source: { inbox: string; end: number }): Promise<void> {
    return this.execute(planFromMailbox(envelope, this.ctx), source);
  }

  stats(): Record<string, { pending: number; inFlight: number }> {
    const out: Record<string, { pending: number; inFlight: number }> = {};
    for (const [target, outbox] of this.outboxes) {
      out[target] = { pending: outbox.size, inFlight: this.loops.get(target)?.inFlight ?? 0 };
    }
    return out;
  }

  /**
   * Puts every action durably into its outbox, target by target. The inbox source goes on
   * the very last put: only once every effect of a line is written may the line count as
   * read (a crash before that re-reads it, and the puts already made come back "duplicate").
   */
  private async execute(actions: RelayAction[], source?: { inbox: string; end: number }): Promise<void> {
    const byTarget = new Map<string, OutboxItem<RelayAction>[]>();
    for (const action of actions) {
      const target = targetOf(action);
      if (!byTarget.has(target)) byTarget.set(target, []);
      byTarget
        .get(target)!
        .push({ id: itemId(action), payload: action, enqueuedAt: Date.now(), attempts: 0 });
    }
    const batches = [...byTarget];
    if (source && batches.length > 0) batches.at(-1)![1].at(-1)!.source = source;
    for (const [target, items] of batches) {
      const outbox = this.outboxes.get(target);
      if (!outbox) {
        this.log.warn({ target }, "no outbox for this target; action dropped");
        continue;
      }
      const results = await outbox.put(items);
      this.loops.get(target)?.wake();
      const overflowed = items.filter((_, i) => results[i] === "overflow");
      if (overflowed.length === 0) continue;
      if (source) {
        // A mailbox line waits in its inbox instead: the tailer retries it, with backoff,
        // until the outbox has room again. Nothing is dropped.
        this.log.warn(
          { target, inbox: source.inbox, pending: outbox.size },
          "outbox full; the inbox line waits",
        );
        throw new ClawbridgeError(
          "CB_MAILBOX_IO",
          `the outbox for ${target} is full (${outbox.size} waiting)`,
          {
            retryable: true,
            fix: `bring ${target} back online, or raise relay.outboxPerNode`,
          },
        );
      }
      for (const item of overflowed) void this.overflowed(item.payload, outbox.size);
    }
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
      available,
      // Only each lane's head may start: reading the whole backlog on every wake (each put
      // and each completion) made draining a backlog of thousands quadratic.
      pending: function* () {
        for (const item of outbox.laneHeads()) yield { ...item, lane: laneOf(item.payload) };
      },
      work: async (item) => {
        outbox.attempt(item.id);
        await this.perform(item.payload, this.replayed.has(item.id));
        await outbox.done(item.id);
        this.replayed.delete(item.id);
      },
    });
    this.loops.set(target, loop);
    return loop;
  }

  private async perform(action: RelayAction, replayed: boolean): Promise<void> {
    switch (action.kind) {
      case "deliver":
        return this.deliver(action);
      case "append":
        return this.append(action, replayed);
      case "post":
        return this.post(action);
    }
  }

  private async deliver(action: DeliverAction): Promise<void> {
    const gateway = this.ports.gateways.get(action.node);
    if (!gateway) throw new Error(`node ${action.node} has no gateway`);
    const node = this.ctx.nodes.get(action.node);
    const run = gateway.runAgent({
      prompt: promptFor(action.envelope),
      sessionKey: action.sessionKey,
      idempotencyKey: action.envelope.id,
      agentId: node?.agentId,
      timeoutMs: this.options.runTimeoutMs ?? 600_000,
    });
    const result = await run.result;
    if (result.status !== "ok") throw new Error(`run ${result.runId} ended ${result.status}`);
    // The folder is the full record: the delivered envelope goes into the addressee's inbox, marked.
    const mirror: AppendAction[] = action.mirror
      ? [{ kind: "append", envelope: { ...action.envelope, source: "clawbridge", delivered: "gateway" } }]
      : [];
    await this.execute([...mirror, ...planAnswer(action, result.text, this.ctx)]);
  }

  private async append(action: AppendAction, replayed: boolean): Promise<void> {
    const { envelope } = action;
    if (replayed && (await inboxContainsId(this.ports.mailbox.layout, envelope.to, envelope.id))) return;
    await this.ports.mailbox.append({ ...envelope, source: envelope.source ?? "clawbridge" });
  }

  private async post(action: PostAction): Promise<void> {
    if (!this.ports.chat) return;
    await this.ports.chat.send({
      chatId: action.place.chatId,
      content: { kind: "text", text: action.text },
      ...(action.place.replyTo ? { replyTo: action.place.replyTo } : {}),
      uuid: action.uuid,
    });
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

/** Deliveries to one session run in order; appends in file order per inbox; posts in order per chat. */
function laneOf(action: RelayAction): string {
  if (action.kind === "deliver") return action.sessionKey;
  if (action.kind === "append") return action.envelope.to;
  return action.place.chatId;
}

/** What the addressed agent reads: who it is from, then the text. */
function promptFor(envelope: Envelope): string {
  const from = envelope.name ? `${envelope.name} (${envelope.from})` : envelope.from;
  return `[clawbridge] ${envelope.type} from ${from}:\n\n${envelope.content}`;
}
