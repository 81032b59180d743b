import type { Fence } from "../cluster/index.js";
import type { OutboxSource } from "./outbox-journal.js";
import type { OutboxItem, OutboxStats, PutResult, SourcedId } from "./outbox-types.js";

/**
 * What the relay needs of an outbox, whichever store keeps it: `Outbox` (a journal file in
 * `state.dir/outbox`, one process) or `RedisOutbox` (a Redis Stream shared by replicas:
 * any replica puts, the target's owner consumes).
 *
 * The reading side (`pending`, `laneHeads`, `laneItems`, `peek`, `done`, `attempt`) is the
 * consumer's view: in the file store every pending item, in the Redis store the items this
 * replica has claimed while it owns the target.
 */
export interface OutboxStore<T> {
  readonly target: string;
  readonly capacity: number;
  load(): Promise<void>;
  put(input: OutboxItem<T>[] | OutboxItem<T>): Promise<PutResult[]>;
  requeue(item: OutboxItem<T>): Promise<PutResult>;
  pending(): readonly OutboxItem<T>[];
  laneHeads(): IterableIterator<OutboxItem<T>>;
  laneItems(lane: string, limit: number): OutboxItem<T>[];
  peek(): OutboxItem<T> | undefined;
  /**
   * Marks an item delivered; resolves once that is written. The item leaves its lane at once.
   * With `after` (its effects, still being written), the mark waits for them, and if they fail
   * it is not written: the item is back in its lane and the call rejects with their error.
   */
  done(id: string, after?: Promise<unknown>): Promise<void>;
  attempt(id: string, error?: unknown): void;
  has(id: string): boolean;
  /** Items waiting (in the Redis store: across all replicas, as of the last write or refresh). */
  readonly size: number;
  seqOf(id: string): number | undefined;
  readonly seq: number;
  sourceOf(id: string): OutboxSource | undefined;
  sourced(): SourcedId[];
  stats(): OutboxStats;
  close(): Promise<void>;
  /**
   * Shared stores only: starts taking this target's work while this replica holds its role
   * (`fence`); `onItems` is called when items arrive. The file store needs no claim.
   */
  consume?(fence: Fence, onItems: () => void): Promise<void>;
  /** Stops taking work; what was taken and not done stays for the role's next owner. */
  stopConsuming?(): Promise<void>;
}
