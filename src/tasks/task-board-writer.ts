import {
  isoWithOffset,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type TimerHandle,
} from "../core/index.js";
import type { MailboxStore, TaskBoardEntry } from "../mailbox/index.js";
import { taskStateLabel } from "./cards/index.js";
import type { TaskService } from "./task-service.js";
import { requesterLabel } from "./task-service.js";
import { isFinalState, type Task } from "./types.js";

/** Changes within this window make one rewrite of the board (it is a file on the share). */
const BOARD_DEBOUNCE_MS = 500;
/** Finished tasks listed under the open ones. */
const FINISHED_SHOWN = 20;

/**
 * Keeps the clawbridge block in `tasks/shared-tasks.md` current: every open task and the
 * latest finished ones (id, node, who, state, started, finished, prompt). What people wrote
 * outside the block stays as it is (the mailbox module rewrites only the block, under lock).
 */
export class TaskBoardWriter {
  private timer?: TimerHandle;
  private writing: Promise<void> = Promise.resolve();
  private off?: () => void;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    private readonly tasks: TaskService,
    private readonly mailbox: Pick<MailboxStore, "updateTaskBoard">,
    options: { clock?: Clock; logger?: Logger } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ component: "task-board" });
  }

  start(): void {
    this.off = this.tasks.onChange((task) => {
      // Streamed output does not change the board; states do.
      if (task.state === "running" && task.output) return;
      this.schedule();
    });
    this.schedule();
  }

  async stop(): Promise<void> {
    this.off?.();
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    await this.writing;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, BOARD_DEBOUNCE_MS);
    this.timer.unref();
  }

  private write(): void {
    this.writing = this.writing
      .then(() => this.mailbox.updateTaskBoard(this.entries()))
      .catch((error: unknown) => this.log.warn({ err: error }, "could not update the task board"));
  }

  private entries(): TaskBoardEntry[] {
    const all = this.tasks.list(1_000);
    const open = all.filter((task) => !isFinalState(task.state)).reverse();
    const finished = all.filter((task) => isFinalState(task.state)).slice(0, FINISHED_SHOWN);
    return [...open, ...finished].map((task) => entryOf(task));
  }
}

function entryOf(task: Task): TaskBoardEntry {
  return {
    id: task.id,
    node: task.node ?? task.target ?? "",
    state: taskStateLabel(task.state, task.locale),
    title: task.prompt,
    requestedBy: requesterLabel(task.requestedBy),
    ...(task.startedAt !== undefined ? { startedAt: isoWithOffset(task.startedAt) } : {}),
    ...(task.endedAt !== undefined ? { finishedAt: isoWithOffset(task.endedAt) } : {}),
  };
}
