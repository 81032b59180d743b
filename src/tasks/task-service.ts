// Longer than our usual file: a task's whole life (queue, start on a gateway or a mailbox,
// stream, finish, cancel, recover after a restart) changes one record under one set of rules;
// what it writes and where it runs are in task-results.ts and task-placement.ts.
import {
  isClawbridgeError,
  isoWithOffset,
  newId,
  nodeKey,
  silentLogger,
  systemClock,
  type Clock,
  type Envelope,
  type Locale,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import { isFencedError } from "../cluster/index.js";
import type { GatewayClient, RunHandle, RunResult } from "../gateway/index.js";
import type { Lease, NodePool } from "../nodes/index.js";
import { taskSessionKey, type RelayAction } from "../relay/index.js";
import { formatDuration } from "./cards/index.js";
import { tasksMessages } from "./messages.js";
import { checkTarget, pickNode } from "./task-placement.js";
import { promptFor, requesterLabel, requesterAddress, taskResultActions } from "./task-results.js";
import type { TaskJournal } from "./task-journal.js";
import { isFinalState, type Task, type TaskPlace, type TaskRequester, type TaskState } from "./types.js";

/** Cards of tasks that ended this recently are shown in their final state again at start. */
const RESHOW_ENDED_MS = 10 * 60_000;
const RESHOW_ENDED_MAX = 100;

/** A configured node as tasks need it. */
export interface TaskNode {
  name: string;
  agentId: string;
  hasGateway: boolean;
}

/** Where a task's card and final message are shown (see live-cards.ts). */
export interface TaskView {
  /** A new task: send its card (a reply to the command). */
  opened(task: Task, position?: number): void;
  /** The task changed (state, output, queue position); `final` once it has ended. */
  changed(task: Task, position?: number): void;
  /** The task layer stopped here: nothing but final cards may still go out. */
  stop?(): void;
}

export interface DispatchRequest {
  prompt: string;
  /** A node name or `#tag`; none = any node. */
  target?: string;
  requestedBy: TaskRequester;
  place?: TaskPlace;
  locale: Locale;
  /** Agent-dispatched: the envelope that asked (the same line twice is the same task). */
  sourceEnvelopeId?: string;
  /** The chat message or button press that asked (the same one twice is the same task). */
  sourceMessageId?: string;
  retryOf?: string;
}

export type DispatchRefusal = "unknown-node" | "unknown-tag" | "queue-full" | "no-nodes" | "unknown-task";

export type DispatchResult =
  { ok: true; task: Task; position?: number } | { ok: false; reason: DispatchRefusal; name?: string };

export type CancelResult =
  { ok: true; task: Task } | { ok: false; reason: "unknown-task" | "finished" | "not-yours"; task?: Task };

export interface TaskServiceOptions {
  journal: TaskJournal;
  pool: NodePool;
  gateways: ReadonlyMap<string, GatewayClient>;
  nodes: readonly TaskNode[];
  /** Durable inbox appends, gateway deliveries and chat posts (the relay's outboxes). */
  submit: (actions: RelayAction[]) => Promise<void>;
  /** `mailbox.self`. */
  self: string;
  timeoutMs: number;
  maxQueued: number;
  view?: TaskView;
  /** The final message's words (after the @mention): "任务 T7 已完成（ai-pc，3分12秒）". */
  finalText: (task: Task, now: number) => string;
  logger?: Logger;
  clock?: Clock;
}

type Listener = (task: Task) => void;

interface Live {
  lease?: Lease;
  run?: RunHandle;
  timer?: TimerHandle;
  unsubscribe?: () => void;
}

/**
 * Tasks: queued → running → done | failed | cancelled | timeout. One queue for all tasks
 * (bounded by `tasks.maxQueued`), started by themselves when a slot frees, never more than
 * a node's `maxConcurrent` at once. Every change is journaled before anyone is told, and
 * what goes to the folder and the chat goes through the relay's outboxes, so a crash never
 * loses a result nor posts it twice.
 */
export class TaskService {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly live = new Map<string, Live>();
  /** Running tasks' copies with the output streamed so far (not journaled until the end). */
  private readonly streaming = new Map<string, Task>();
  /** Copies on their way to the journal (it applies a put once written), newest per task. */
  private readonly saving = new Map<string, Task>();
  private readonly listeners = new Set<Listener>();
  private readonly nodes: Map<string, TaskNode>;
  private queue: string[] = [];
  private scheduling = false;
  private again = false;
  private stopped = false;
  private offPool?: () => void;
  private admission: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: TaskServiceOptions) {
    this.log = (options.logger ?? silentLogger()).child({ component: "tasks" });
    this.clock = options.clock ?? systemClock;
    this.nodes = new Map(options.nodes.map((n) => [nodeKey(n.name), n]));
  }

  set view(view: TaskView | undefined) {
    (this.options as { view?: TaskView }).view = view;
  }

  /** Loads the journal and brings every open task back to its true state. */
  async start(): Promise<void> {
    await this.options.journal.load();
    const open = this.options.journal.all().filter((task) => !isFinalState(task.state));
    open.sort((a, b) => a.seq - b.seq);
    for (const task of open) {
      if (task.state === "queued") {
        this.queue.push(task.id);
        this.arm(task);
      } else {
        this.recover(task);
      }
    }
    if (open.length > 0) this.log.info({ open: open.length }, "tasks recovered from the journal");
    for (const task of open) {
      const current = this.get(task.id)!;
      if (!isFinalState(current.state)) this.options.view?.changed(current, this.position(current.id));
    }
    // A card's final patch goes out after the task is journaled as ended: a stop in between
    // (a crash, the tasks role moving to another replica) left it showing "running". The
    // cards of tasks that ended lately are shown in their final state again (a patch to the
    // same content changes nothing).
    const endedSince = this.clock.now() - RESHOW_ENDED_MS;
    const ended = this.options.journal
      .all()
      .filter(
        (task) => isFinalState(task.state) && task.place?.cardMessageId && (task.endedAt ?? 0) >= endedSince,
      )
      .sort((a, b) => b.seq - a.seq)
      .slice(0, RESHOW_ENDED_MAX);
    for (const task of ended) this.options.view?.changed(task);
    // A node coming online (or a mailbox node's status file coming alive) can start queued tasks.
    this.offPool = this.options.pool.onChange(() => this.schedule());
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.view?.stop?.();
    this.offPool?.();
    for (const live of this.live.values()) {
      if (live.timer) this.clock.clearTimeout(live.timer);
      live.unsubscribe?.();
    }
    await this.options.journal.close();
  }

  /** The task as it is now (with the output streamed so far while it runs). */
  get(id: string): Task | undefined {
    const key = id.toUpperCase();
    return this.streaming.get(key) ?? this.saving.get(key) ?? this.options.journal.get(id);
  }

  /** The task's card was posted: journaled, so a restart patches it instead of sending another. */
  async cardSent(id: string, messageId: string): Promise<void> {
    const task = this.saving.get(id.toUpperCase()) ?? this.options.journal.get(id);
    if (!task?.place || task.place.cardMessageId === messageId) return;
    const place = { ...task.place, cardMessageId: messageId };
    await this.save({ ...task, place });
    const streamed = this.streaming.get(task.id);
    if (streamed) this.streaming.set(task.id, { ...streamed, place });
  }

  /** Newest first. */
  list(limit = 10): Task[] {
    return this.options.journal
      .all()
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit)
      .map((task) => this.get(task.id) ?? task);
  }

  /** 1-based place in the queue, or undefined when not queued. */
  position(id: string): number | undefined {
    const index = this.queue.indexOf(id);
    return index < 0 ? undefined : index + 1;
  }

  queued(): number {
    return this.queue.length;
  }

  /** Tasks by state (those the journal keeps), for /healthz and the status file. */
  stats(): Record<TaskState, number> {
    const counts: Record<TaskState, number> = {
      queued: 0,
      running: 0,
      done: 0,
      failed: 0,
      cancelled: 0,
      timeout: 0,
    };
    for (const task of this.options.journal.all()) counts[task.state]++;
    return counts;
  }

  /** Every task change, for `/watch`. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the target, then queues the task and starts it when a node is free. */
  dispatch(request: DispatchRequest): Promise<DispatchResult> {
    // One admission at a time: commands arrive concurrently, and each must see the queue (and
    // the slots) as the tasks admitted before it left them, or a burst overruns tasks.maxQueued.
    const turn = this.admission.then(() => this.admit(request));
    this.admission = turn.catch(() => undefined);
    return turn;
  }

  private async admit(request: DispatchRequest): Promise<DispatchResult> {
    if (request.sourceEnvelopeId) {
      const same = this.options.journal.all().find((t) => t.sourceEnvelopeId === request.sourceEnvelopeId);
      if (same) return { ok: true, task: same, position: this.position(same.id) };
    }
    if (request.sourceMessageId) {
      const same = this.options.journal.all().find((t) => t.sourceMessageId === request.sourceMessageId);
      if (same) return { ok: true, task: same, position: this.position(same.id) };
    }
    const refusal = this.checkTarget(request.target);
    if (refusal) return refusal;
    if (this.queue.length >= this.options.maxQueued && !this.canStartNow(request.target)) {
      return { ok: false, reason: "queue-full" };
    }
    const seq = this.options.journal.takeSeq();
    const task: Task = {
      id: `T${seq}`,
      seq,
      ...(request.target ? { target: request.target } : {}),
      prompt: request.prompt,
      state: "queued",
      requestedBy: request.requestedBy,
      ...(request.place ? { place: request.place } : {}),
      locale: request.locale,
      envelopeId: `task-${newId(this.clock.now())}`,
      ...(request.sourceEnvelopeId ? { sourceEnvelopeId: request.sourceEnvelopeId } : {}),
      ...(request.sourceMessageId ? { sourceMessageId: request.sourceMessageId } : {}),
      ...(request.retryOf ? { retryOf: request.retryOf } : {}),
      createdAt: this.clock.now(),
      output: "",
    };
    await this.save(task);
    this.queue.push(task.id);
    this.arm(task);
    this.log.info(
      { task: task.id, target: task.target, by: requesterLabel(task.requestedBy) },
      "task queued",
    );
    this.schedule();
    const now = this.get(task.id)!;
    this.options.view?.opened(now, this.position(now.id));
    this.emit(now);
    return { ok: true, task: now, position: this.position(now.id) };
  }

  /** A new task with the same prompt and target (the Retry button). */
  retry(
    id: string,
    requestedBy: TaskRequester,
    place?: TaskPlace,
    sourceMessageId?: string,
  ): Promise<DispatchResult> {
    const task = this.get(id);
    if (!task) return Promise.resolve({ ok: false, reason: "unknown-task", name: id });
    return this.dispatch({
      ...(sourceMessageId ? { sourceMessageId } : {}),
      prompt: task.prompt,
      ...(task.target ? { target: task.target } : {}),
      requestedBy,
      place: place ?? (task.place ? { chatId: task.place.chatId, replyTo: task.place.replyTo } : undefined),
      locale: task.locale,
      retryOf: task.id,
    });
  }

  /** Cancels a task; a person may cancel their own, an admin anyone's. */
  async cancel(id: string, by: { openId: string; isAdmin: boolean }): Promise<CancelResult> {
    const task = this.get(id);
    if (!task) return { ok: false, reason: "unknown-task" };
    if (isFinalState(task.state)) return { ok: false, reason: "finished", task };
    const own = task.requestedBy.kind === "user" && task.requestedBy.openId === by.openId;
    if (!own && !by.isAdmin) return { ok: false, reason: "not-yours", task };
    const live = this.live.get(task.id);
    const t = tasksMessages.t(task.locale);
    const finished = await this.finish(task.id, "cancelled", {
      reason: t("reasonCancelledBy", { who: by.openId }),
      cancelledBy: by.openId,
    });
    if (live?.run)
      void live.run
        .abort()
        .catch((error: unknown) => this.log.warn({ err: error, task: id }, "abort failed"));
    if (task.via === "mailbox" && task.node) {
      // The node's agent reads its inbox: tell it too, in the protocol it already speaks.
      await this.options.submit([
        {
          kind: "append",
          envelope: this.envelope({
            id: `cx-${task.envelopeId}`.slice(0, 128),
            from: this.options.self,
            to: task.node,
            type: "event",
            content: `cancelled ${task.id}`,
            taskId: task.id,
          }),
        },
      ]);
    }
    return { ok: true, task: finished ?? this.get(id)! };
  }

  /**
   * An inbox line from a mailbox-only node: a `result`/answer with the `taskId` or `replyTo`
   * of a task running there completes it. True when it answered a task (a repeated answer
   * to a finished one counts, and does nothing).
   */
  async answerFromMailbox(envelope: Envelope): Promise<boolean> {
    const from = nodeKey(envelope.from);
    const answers = (t: Task) =>
      t.via === "mailbox" &&
      t.node !== undefined &&
      nodeKey(t.node) === from &&
      ((envelope.taskId !== undefined && envelope.taskId.toUpperCase() === t.id) ||
        (envelope.replyTo !== undefined && envelope.replyTo === t.envelopeId));
    // Open tasks are few (this.live); a finished one is looked up only by the id it names.
    let task: Task | undefined;
    for (const id of this.live.keys()) {
      const open = this.get(id);
      if (open && answers(open)) task = open;
    }
    if (!task && envelope.taskId !== undefined) {
      const named = this.get(envelope.taskId);
      if (named && answers(named)) task = named;
    }
    if (!task) return false;
    if (isFinalState(task.state)) return true;
    // An answer written straight into the inbox the result goes to — the requesting agent's, or
    // the bridge's own for a person (people have none) — is already the folder's record (and
    // the relay hands an agent's on from there): only the chat still needs to hear.
    const resultInbox = task.requestedBy.kind === "agent" ? task.requestedBy.node : this.options.self;
    const direct = nodeKey(envelope.to) === nodeKey(resultInbox);
    await this.finish(task.id, "done", { output: envelope.content, answeredDirectly: direct });
    return true;
  }

  // ---------------------------------------------------------------------------------------

  private checkTarget(target: string | undefined): DispatchResult | undefined {
    const refusal = checkTarget(target, this.nodes, this.options.pool);
    return refusal ? { ok: false, ...refusal } : undefined;
  }

  private canStartNow(target: string | undefined): boolean {
    return pickNode(target, this.options.pool) !== undefined;
  }

  /** Starts every queued task that can start, in queue order (later ones may pass a blocked head). */
  private schedule(): void {
    if (this.stopped) return;
    if (this.scheduling) {
      this.again = true;
      return;
    }
    this.scheduling = true;
    void (async () => {
      try {
        do {
          this.again = false;
          let started = false;
          for (const id of [...this.queue]) {
            const task = this.get(id);
            if (!task || task.state !== "queued") {
              this.queue = this.queue.filter((q) => q !== id);
              continue;
            }
            const node = pickNode(task.target, this.options.pool);
            if (!node) continue;
            const lease = this.options.pool.acquire(node);
            if (!lease) continue;
            this.queue = this.queue.filter((q) => q !== id);
            started = true;
            await this.begin(task, lease);
          }
          if (started) this.showPositions();
        } while (this.again && !this.stopped);
      } catch (error) {
        this.log.error({ err: error }, "task scheduling failed");
      } finally {
        this.scheduling = false;
      }
    })();
  }

  private showPositions(): void {
    for (const id of this.queue) {
      const task = this.get(id);
      if (task) this.options.view?.changed(task, this.position(id));
    }
  }

  private async begin(queued: Task, lease: Lease): Promise<void> {
    const node = this.nodes.get(nodeKey(lease.node))!;
    const via = node.hasGateway && this.options.gateways.has(node.name) ? "gateway" : "mailbox";
    const task: Task = {
      ...queued,
      state: "running",
      node: node.name,
      via,
      startedAt: this.clock.now(),
      // Journaled false until the gateway accepts the run (a task journaled by an older release
      // has no such field, and its run is awaited as before).
      ...(via === "gateway" ? { runAccepted: false } : {}),
    };
    const live = this.liveOf(task.id);
    live.lease = lease;
    try {
      // The `task` envelope is the folder's record; for a mailbox-only node it is the delivery.
      await this.options.submit([
        {
          kind: "append",
          envelope: this.envelope({
            id: task.envelopeId,
            from: requesterAddress(task.requestedBy),
            ...(task.requestedBy.kind === "user" && task.requestedBy.name
              ? { name: task.requestedBy.name }
              : {}),
            to: node.name,
            type: "task",
            content: task.prompt,
            taskId: task.id,
            ...(via === "gateway" ? { delivered: "gateway" } : {}),
          }),
        },
      ]);
      await this.save(task);
    } catch (error) {
      lease.release();
      this.log.error({ err: error, task: task.id }, "could not start the task");
      await this.finish(task.id, "failed", { reason: describeError(error, task.locale) });
      return;
    }
    this.log.info({ task: task.id, node: node.name, via }, "task started");
    this.arm(task);
    if (via === "gateway") {
      const run = this.options.gateways.get(node.name)!.runAgent({
        prompt: promptFor(task),
        sessionKey: taskSessionKey(node.agentId, task.id),
        idempotencyKey: task.envelopeId,
        agentId: node.agentId,
        timeoutMs: this.remaining(task),
      });
      this.follow(task, run);
    }
    this.options.view?.changed(task);
    this.emit(task);
  }

  /** After a restart: a running task is re-attached to its run, or failed with the reason. */
  private recover(task: Task): void {
    const node = task.node ? this.nodes.get(nodeKey(task.node)) : undefined;
    const t = tasksMessages.t(task.locale);
    if (!node) {
      this.background(
        this.finish(task.id, "failed", { reason: t("reasonNodeGone", { node: task.node ?? "?" }) }),
      );
      return;
    }
    const live = this.liveOf(task.id);
    live.lease = this.options.pool.acquire(node.name);
    this.arm(task);
    if (task.via !== "gateway") return; // a mailbox task waits for its answer line, as before
    const gateway = this.options.gateways.get(node.name);
    if (!gateway) {
      this.background(this.finish(task.id, "failed", { reason: t("reasonRunLost", { node: node.name }) }));
      return;
    }
    const sessionKey = taskSessionKey(node.agentId, task.id);
    // A run the gateway accepted is awaited (gone from a gateway that restarted, it has failed).
    // One never accepted may never have reached it (the bridge stopped between journaling the
    // task as running and sending it): sent again under the same key, which the gateway
    // answers with the run it has, if it has one — never a second run.
    const run =
      task.runAccepted !== false
        ? gateway.attachRun({ runId: task.envelopeId, sessionKey, timeoutMs: this.remaining(task) })
        : gateway.runAgent({
            prompt: promptFor(task),
            sessionKey,
            idempotencyKey: task.envelopeId,
            agentId: node.agentId,
            timeoutMs: this.remaining(task),
          });
    this.follow(task, run);
  }

  private follow(task: Task, run: RunHandle): void {
    const live = this.liveOf(task.id);
    live.run = run;
    live.unsubscribe = run.onEvent((event) => {
      if (event.kind === "accepted") return this.accepted(task.id);
      if (event.kind !== "delta") return;
      const current = this.get(task.id);
      if (!current || current.state !== "running") return;
      // Deltas live in memory and on the card; the journal gets the final text.
      const next = { ...current, output: event.text };
      this.streaming.set(task.id, next);
      this.options.view?.changed(next);
      this.emit(next);
    });
    run.result.then(
      (result) => this.background(this.settle(task.id, result)),
      (error: unknown) => this.background(this.failed(task.id, error)),
    );
  }

  /** The gateway has the run: journaled, so a restart awaits it instead of sending it again. */
  private accepted(id: string): void {
    const current = this.get(id);
    if (!current || current.state !== "running" || current.runAccepted !== false) return;
    const next = { ...current, runAccepted: true };
    if (this.streaming.has(id)) this.streaming.set(id, next);
    this.save(next).catch((error: unknown) =>
      this.log.warn({ err: error, task: id }, "could not journal that the gateway accepted the run"),
    );
  }

  private async settle(id: string, result: RunResult): Promise<void> {
    const task = this.get(id);
    if (!task || isFinalState(task.state)) return;
    const t = tasksMessages.t(task.locale);
    if (result.status === "ok") await this.finish(id, "done", { output: result.text });
    else if (result.status === "timeout")
      await this.finish(id, "timeout", { reason: this.timeoutReason(task) });
    else if (result.status === "aborted")
      await this.finish(id, "failed", {
        reason: t("reasonAborted", { node: task.node ?? "?" }),
        output: result.text,
      });
    else
      await this.finish(id, "failed", {
        output: result.text,
        reason: t("reasonFailed", { error: result.status }),
      });
  }

  private async failed(id: string, error: unknown): Promise<void> {
    const task = this.get(id);
    if (!task || isFinalState(task.state)) return;
    // A run the gateway no longer knows (after a restart) says so in its own error text.
    if (isClawbridgeError(error, "CB_GATEWAY_TIMEOUT")) {
      await this.finish(id, "timeout", { reason: this.timeoutReason(task) });
    } else {
      await this.finish(id, "failed", { reason: describeError(error, task.locale) });
    }
  }

  private timeoutReason(task: Task): string {
    // "within 30 min", "within 1 s": a timeout under a minute must not read "within 0 min".
    const duration = formatDuration(this.options.timeoutMs, task.locale);
    return tasksMessages.t(task.locale)(task.state === "queued" ? "reasonQueueTimeout" : "reasonTimeout", {
      duration,
    });
  }

  /** The one way a task ends: result envelopes and the final message queued, then journaled. */
  private async finish(
    id: string,
    state: TaskState,
    fields: { output?: string; reason?: string; cancelledBy?: string; answeredDirectly?: boolean },
  ): Promise<Task | undefined> {
    const before = this.get(id);
    if (!before || isFinalState(before.state)) return undefined;
    // Stopped: the journal is closed and the gateways are closing, which ends their runs. The
    // task stays open in the journal and is recovered at the next start.
    if (this.stopped) return undefined;
    const task: Task = {
      ...before,
      state,
      endedAt: this.clock.now(),
      output: fields.output ?? before.output,
      ...(fields.reason ? { reason: fields.reason } : {}),
      ...(fields.cancelledBy ? { cancelledBy: fields.cancelledBy } : {}),
    };
    const live = this.live.get(id);
    this.live.delete(id);
    this.streaming.delete(id);
    if (live?.timer) this.clock.clearTimeout(live.timer);
    live?.unsubscribe?.();
    this.queue = this.queue.filter((q) => q !== id);
    try {
      const actions = taskResultActions(task, {
        self: this.options.self,
        nodes: this.nodes,
        hasGateway: (name) => this.options.gateways.has(name),
        timestamp: isoWithOffset(this.clock.now()),
        finalText: this.options.finalText(task, this.clock.now()),
      });
      await this.options.submit(fields.answeredDirectly ? actions.filter((a) => a.kind === "post") : actions);
    } catch (error) {
      this.log.error({ err: error, task: id }, "could not queue the task's result");
    }
    try {
      await this.save(task);
    } catch (error) {
      // Stopped meanwhile, or the tasks role moved on (the journal's fence refused the write:
      // this replica was paused past its lease): the task stays open in the journal and its
      // next owner recovers it. Not thrown: nobody awaits a run's settling.
      if (!this.stopped && !isFencedError(error)) throw error;
      this.log.info(
        { task: id, err: error },
        "task ended while the task layer stopped; its next owner recovers it",
      );
      return undefined;
    }
    live?.lease?.release();
    this.log.info({ task: id, node: task.node, state, reason: task.reason }, `task ${state}`);
    this.options.view?.changed(task);
    this.emit(task);
    this.schedule();
    return task;
  }

  /** A task's ending no caller awaits (a run settling, a timer): a failure is logged, not thrown. */
  private background(ending: Promise<unknown>): void {
    ending.catch((error: unknown) =>
      this.log.error(
        { err: error },
        "could not end a task; it stays open and is recovered at the next start",
      ),
    );
  }

  /** The task's deadline: `tasks.timeoutMs` from its creation while queued, from its start while running. */
  private arm(task: Task): void {
    const live = this.liveOf(task.id);
    if (live.timer) this.clock.clearTimeout(live.timer);
    const delay = Math.max(0, this.remaining(task));
    live.timer = this.clock.setTimeout(() => {
      const current = this.get(task.id);
      if (!current || isFinalState(current.state)) return;
      this.background(this.finish(task.id, "timeout", { reason: this.timeoutReason(current) }));
      void live.run?.abort().catch(() => undefined);
    }, delay);
    live.timer.unref();
  }

  private remaining(task: Task): number {
    const from = task.state === "running" ? (task.startedAt ?? task.createdAt) : task.createdAt;
    return Math.max(1_000, from + this.options.timeoutMs - this.clock.now());
  }

  /**
   * Journals the task's new copy. The card's message id is kept from the journal's copy: it
   * may have been recorded while this change was being made from an older one.
   */
  private save(task: Task): Promise<void> {
    const known = (this.saving.get(task.id) ?? this.options.journal.get(task.id))?.place?.cardMessageId;
    if (known && task.place && !task.place.cardMessageId)
      task.place = { ...task.place, cardMessageId: known };
    // The newest copy until the journal has it: a change made meanwhile starts from it.
    this.saving.set(task.id, task);
    return this.options.journal.put(task).finally(() => {
      if (this.saving.get(task.id) === task) this.saving.delete(task.id);
    });
  }

  private liveOf(id: string): Live {
    let live = this.live.get(id);
    if (!live) this.live.set(id, (live = {}));
    return live;
  }

  private envelope(fields: Omit<Envelope, "timestamp" | "source">): Envelope {
    return { ...fields, timestamp: isoWithOffset(this.clock.now()), source: "clawbridge" } as Envelope;
  }

  private emit(task: Task): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(task);
      } catch (error) {
        this.log.error({ err: error }, "task listener failed");
      }
    }
  }
}

function describeError(error: unknown, locale: Locale): string {
  if (isClawbridgeError(error)) return error.describe(locale);
  return error instanceof Error ? error.message : String(error);
}

export { requesterAddress, requesterLabel };
