import { appendFileSync } from "node:fs";
import { isoWithOffset } from "../../src/core/index.js";
import { buttonValues } from "../../test/helpers/card-reading.js";
import { GroupTalk } from "../../test/reliability/support/fault-kit.js";
import { epochMs } from "../lib/report.js";
import type { Ledger, Sent, TrafficKind } from "./ledger.js";
import type { Random } from "./random.js";
import {
  AI_PC_BOT,
  GATEWAY_NODES,
  GPU_NODES,
  LONG_RUN_MARK,
  MAILBOX_NODES,
  TASK_MARK,
  token,
  type SoakWorld,
} from "./world.js";

/**
 * The share of each kind in the traffic. Mostly shared-folder traffic, which costs Feishu
 * nothing; the group traffic is sized so the bridge's posts, cards and patches stay near
 * 32 Open API calls a second, under the 50 Feishu allows an app, with room to catch up after
 * an outage (see soak.ts).
 */
export const MIX: Readonly<Record<TrafficKind, number>> = {
  mailbox: 0.62,
  agentTask: 0.1,
  tell: 0.08,
  tellMailbox: 0.02,
  mention: 0.08,
  run: 0.064,
  runCancel: 0.016,
};

/** A card's Cancel is pressed this long after the card appeared (ms, at random in between). */
const PRESS_AFTER_MS = [300, 700] as const;

/**
 * Sends the soak's envelopes, one kind at a time as `MIX` says: lines agents append to
 * inboxes, people's commands in the groups (said the way Feishu delivers them: again until
 * acknowledged), and a node's agent addressing another in its group session. Group traffic
 * goes round the chats in turn. Every envelope carries a fresh token (see world.ts).
 */
export class Traffic {
  readonly counts = Object.fromEntries(Object.keys(MIX).map((k) => [k, 0])) as Record<TrafficKind, number>;
  /** Cancel buttons pressed, and cards that had already finished when their turn came. */
  readonly presses = { pressed: 0, finishedFirst: 0 };
  readonly talk: GroupTalk;
  private seq = 0;
  private chatTurn = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly world: SoakWorld,
    private readonly ledger: Ledger,
    private readonly random: Random,
  ) {
    this.talk = new GroupTalk(world.emu);
    ledger.onCancelCard = (cardId) => this.pressCancelSoon(cardId);
  }

  /** Sends one envelope of a kind chosen at random by `MIX`. */
  next(): Sent {
    return this.sendOf(this.random.weighted(MIX));
  }

  /** Sends one envelope of `kind`. */
  sendOf(kind: TrafficKind): Sent {
    const tok = token(++this.seq);
    const sent = this.send(kind, tok);
    this.counts[kind]++;
    this.ledger.sent(sent);
    return sent;
  }

  stop(): void {
    this.talk.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private send(kind: TrafficKind, tok: string): Sent {
    const { random } = this;
    switch (kind) {
      case "mailbox": {
        const from = random.pick(MAILBOX_NODES);
        const to = random.pick(GATEWAY_NODES);
        const sentAt = this.append(to, {
          id: `${tok}-m`,
          from,
          to,
          type: "message",
          content: `${tok} 请帮我看一下日志`,
        });
        return { token: tok, kind, route: `${from} → ${to}`, sentAt, exposedTo: [`gateway:${to}`] };
      }
      case "agentTask": {
        const from = random.pick(MAILBOX_NODES);
        const target = random.pick(["#gpu", ...GATEWAY_NODES]);
        const sentAt = this.append("clawbridge", {
          id: `${tok}-t`,
          from,
          to: "clawbridge",
          type: "task",
          target,
          content: `${TASK_MARK} ${tok} 跑一轮训练`,
        });
        const nodes = target === "#gpu" ? GPU_NODES : [target];
        const route = `${from} → ${target}`;
        return { token: tok, kind, route, sentAt, exposedTo: nodes.map((node) => `gateway:${node}`) };
      }
      case "tell": {
        const node = random.pick(GATEWAY_NODES);
        return this.say(kind, tok, node, `/tell ${node} ${tok} 今天 GPU 利用率怎么样？`, [
          "intake",
          `gateway:${node}`,
        ]);
      }
      case "tellMailbox": {
        const node = random.pick(MAILBOX_NODES);
        return this.say(kind, tok, node, `/tell ${node} ${tok} 备份一下照片`, ["intake", "inbox"]);
      }
      case "mention": {
        const chatId = this.nextChat();
        const sentAt = epochMs();
        this.world.fakes["office-mac"].sayInGroup({
          chatId,
          text: `@${AI_PC_BOT} ${tok} 帮我看一下训练日志`,
          chunks: 1,
          delayMs: 0,
        });
        const exposedTo = ["gateway:office-mac", "gateway:ai-pc"];
        return { token: tok, kind, route: "office-mac → ai-pc", sentAt, exposedTo };
      }
      case "run":
      case "runCancel": {
        const node = random.pick(GATEWAY_NODES);
        const prompt =
          kind === "run" ? `${TASK_MARK} ${tok} 跑一轮训练` : `${LONG_RUN_MARK} ${tok} 长时间训练`;
        return this.say(kind, tok, node, `/run ${node} ${prompt}`, ["intake", `gateway:${node}`]);
      }
    }
  }

  /** A mailbox node's agent appends one whole line in one write (as the seed's agents do). */
  private append(inbox: string, line: Record<string, unknown>): number {
    const text = `${JSON.stringify({ ...line, timestamp: isoWithOffset(Date.now()) })}\n`;
    const sentAt = epochMs();
    appendFileSync(this.world.folder.inbox(inbox), text);
    return sentAt;
  }

  private say(kind: TrafficKind, tok: string, node: string, text: string, exposedTo: string[]): Sent {
    const sentAt = epochMs();
    const { messageId } = this.talk.say(this.nextChat(), this.world.wang, text);
    return { token: tok, kind, route: `小王 → ${node}`, sentAt, exposedTo, messageId };
  }

  private nextChat(): string {
    return this.world.chats[this.chatTurn++ % this.world.chats.length]!;
  }

  private pressCancelSoon(cardId: string): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        const card = this.world.emu.message(cardId);
        const cancel = card && buttonValues(card.content).find((value) => value.cb === "task.cancel");
        if (!cancel) {
          this.presses.finishedFirst++;
          return;
        }
        this.presses.pressed++;
        this.world.emu.clickCard(cardId, this.world.wang, cancel);
      },
      this.random.int(...PRESS_AFTER_MS),
    );
    this.timers.add(timer);
  }
}
