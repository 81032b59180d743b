import type { Locale } from "../core/index.js";

/** Where a task stands. `queued` and `running` are open; the others are final. */
export type TaskState = "queued" | "running" | "done" | "failed" | "cancelled" | "timeout";

export const FINAL_TASK_STATES: readonly TaskState[] = ["done", "failed", "cancelled", "timeout"];

export function isFinalState(state: TaskState): boolean {
  return FINAL_TASK_STATES.includes(state);
}

/** Who asked for a task: a person in a chat, or an agent through the shared folder. */
export type TaskRequester = { kind: "user"; openId: string; name?: string } | { kind: "agent"; node: string };

/** Where the task's card lives and its final message goes: the chat and the command it answers. */
export interface TaskPlace {
  chatId: string;
  /** The command message the card replies to. */
  replyTo?: string;
  /** The live card, once sent. */
  cardMessageId?: string;
}

/**
 * One task, as journaled in `state.dir/tasks.jsonl` and shown on its card, `/task`, the
 * task board. Plain data: every change is a new copy written whole to the journal.
 */
export interface Task {
  /** Short human id: `T7`. */
  id: string;
  /** The number in the id; the next task gets the highest + 1. */
  seq: number;
  /** What the requester asked for: a node name, `#tag`, or nothing (any node). */
  target?: string;
  /** The node it runs (or ran) on; unset while queued without a node picked. */
  node?: string;
  /** How it runs there: through the gateway, or as a `task` envelope in the node's inbox. */
  via?: "gateway" | "mailbox";
  prompt: string;
  state: TaskState;
  requestedBy: TaskRequester;
  /** Absent for agent-dispatched tasks (their result goes to the sender's inbox). */
  place?: TaskPlace;
  /** Language of its card and messages (the chat's locale). */
  locale: Locale;
  /** The `task` envelope's id; also the gateway's idempotency key / run id. */
  envelopeId: string;
  /** Agent-dispatched: the envelope that asked for it (a redelivered line is the same task). */
  sourceEnvelopeId?: string;
  /**
   * Person-dispatched: the chat message (`/run`) or button press that asked for it. Handled
   * again (a replica taking over the task layer re-reads what its predecessor had not
   * finished), it is the same task.
   */
  sourceMessageId?: string;
  /** How many times Retry made a task from this one's prompt (on the new task: which one it retries). */
  retryOf?: string;
  /** ms since the epoch. */
  createdAt: number;
  startedAt?: number;
  /**
   * A gateway task's run: false from the start until the gateway accepts it, then true. After
   * a restart an accepted run is awaited (one the gateway no longer knows has failed); one not
   * accepted is sent again under the same key (the bridge stopped before the gateway had it),
   * which never starts a second one. Absent (written by an older release): awaited.
   */
  runAccepted?: boolean;
  endedAt?: number;
  /** The latest output (whole text so far while running; the answer when done). */
  output: string;
  /** Why it failed, timed out or was cancelled (in the task's locale). */
  reason?: string;
  /** Who cancelled it (open_id), when a person did. */
  cancelledBy?: string;
}
