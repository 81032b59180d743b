import {
  inertMentions,
  CLAWBRIDGE_SOURCE,
  nodeKey,
  silentLogger,
  isoWithOffset,
  systemClock,
  type Clock,
  type Envelope,
  type Locale,
  type Logger,
} from "../core/index.js";
import { postUuid, type RelayAction } from "../relay/index.js";
import type { AccessPolicy } from "./access.js";
import { describeRefusal } from "./dispatch-refusal.js";
import type { CommandServices } from "./command-context.js";
import { tasksMessages } from "./messages.js";
import type { TaskJournal } from "./task-journal.js";
import type { TaskService } from "./task-service.js";

export interface MailboxIntakeOptions {
  self: string;
  tasks: TaskService;
  journal: TaskJournal;
  access: AccessPolicy;
  services: Pick<CommandServices, "nodes" | "pool" | "tasks">;
  submit: (actions: RelayAction[]) => Promise<void>;
  locale: Locale;
  clock?: Clock;
  logger?: Logger;
}

/**
 * What agents write to the bridge's own inbox (`to-<mailbox.self>.jsonl`):
 *
 * - a `task` envelope (optionally with `target: "<node>" | "#<tag>"`) is dispatched through
 *   the pool exactly like `/run`, if `access.agents` lets its sender; the result goes back to
 *   the sender's inbox (and its gateway session when it has one);
 * - an answer (`replyTo` or `taskId`) from a mailbox-only node completes its task, or is
 *   posted in the chat thread of the `/tell` it answers.
 *
 * Lines the bridge wrote itself are never taken again. Everything here is idempotent by
 * envelope id, so a line read twice after a crash does nothing twice.
 */
/**
 * Whether `handle` can do anything with the line: among replicas only such lines travel to
 * the one running the task layer (the relay's part of every line stays where it is read).
 */
export function concernsTasks(envelope: Envelope, self: string): boolean {
  if (envelope.source === CLAWBRIDGE_SOURCE) return false;
  return (
    envelope.taskId !== undefined || envelope.replyTo !== undefined || nodeKey(envelope.to) === nodeKey(self)
  );
}

export class MailboxIntake {
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly options: MailboxIntakeOptions) {
    this.log = (options.logger ?? silentLogger()).child({ component: "tasks.mailbox" });
    this.clock = options.clock ?? systemClock;
  }

  async handle(envelope: Envelope): Promise<void> {
    const { self } = this.options;
    if (envelope.source === CLAWBRIDGE_SOURCE) return;
    const answers = envelope.taskId !== undefined || envelope.replyTo !== undefined;
    // A mailbox-only node may answer an agent's task straight into that agent's inbox.
    if (answers && (await this.options.tasks.answerFromMailbox(envelope))) return;
    if (nodeKey(envelope.to) !== nodeKey(self)) return;
    if (envelope.type === "task") return this.dispatch(envelope);
    if (answers) {
      const thread = envelope.replyTo ? this.options.journal.thread(envelope.replyTo) : undefined;
      if (thread && nodeKey(thread.node) === nodeKey(envelope.from)) {
        const t = tasksMessages.t(this.options.locale);
        await this.options.submit([
          {
            kind: "post",
            place: { chatId: thread.chatId, replyTo: thread.replyTo },
            text: t("answerLine", { node: thread.node, text: inertMentions(envelope.content) }),
            uuid: postUuid(envelope.id, "an"),
          },
        ]);
        return;
      }
    }
    this.log.debug(
      { id: envelope.id, from: envelope.from, type: envelope.type },
      "inbox line for the bridge: nothing to do",
    );
  }

  private async dispatch(envelope: Envelope): Promise<void> {
    const { access, tasks, locale } = this.options;
    const t = tasksMessages.t(locale);
    const from = this.options.services.nodes.find((n) => nodeKey(n.name) === nodeKey(envelope.from))?.name;
    if (!from || !access.agentMay(from)) {
      this.log.warn(
        { from: envelope.from, id: envelope.id },
        "task envelope refused: sender not in access.agents",
      );
      if (from) await this.answer(envelope, from, t("agentRefused", { node: from }));
      return;
    }
    const target = typeof envelope.target === "string" && envelope.target ? envelope.target : undefined;
    const result = await tasks.dispatch({
      prompt: envelope.content,
      ...(target ? { target } : {}),
      requestedBy: { kind: "agent", node: from },
      locale,
      sourceEnvelopeId: envelope.id,
    });
    if (result.ok) return;
    const why = describeRefusal({ t, services: this.options.services }, result.reason, result.name);
    await this.answer(envelope, from, t("agentBadTarget", { why }));
  }

  /** A refusal goes back where the agent looks: its own inbox, as a `result` to its envelope. */
  private answer(envelope: Envelope, to: string, content: string): Promise<void> {
    return this.options.submit([
      {
        kind: "append",
        envelope: {
          id: `re-${envelope.id}`.slice(0, 128),
          from: this.options.self,
          to,
          type: "result",
          content,
          replyTo: envelope.id,
          timestamp: isoWithOffset(this.clock.now()),
          source: CLAWBRIDGE_SOURCE,
        },
      },
    ]);
  }
}
