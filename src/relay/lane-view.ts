import type { OutboxItem } from "./outbox-types.js";

/** A pending item and its place in its outbox's order. */
export interface LaneEntry<T> {
  item: OutboxItem<T>;
  seq: number;
}

/**
 * An outbox's pending items in seq order, also indexed by lane so that `heads` costs the
 * number of lanes however long the backlog: the file `Outbox`'s items, and what a replica
 * has claimed of a `RedisOutbox` (whose entries also carry their stream entry id). Entries
 * come in seq order but for the rare late claim among replicas, which re-sorts.
 */
export class LaneView<T, E extends LaneEntry<T> = LaneEntry<T>> {
  readonly items = new Map<string, E>();
  private readonly lanes = new Map<string, Map<string, E>>();
  /** Items being marked done: still claimed, but no longer any lane's head or batch. */
  private readonly hidden = new Set<string>();
  private lastSeq = 0;

  // Typed on `unknown` so an outbox of X still passes for an outbox of unknown (the tail ledger's view).
  constructor(private readonly laneOf: ((payload: unknown) => string) | undefined) {}

  add(entries: readonly E[]): void {
    // One entry (every put of the file outbox) needs no sorting copy.
    const sorted = entries.length < 2 ? entries : [...entries].sort((a, b) => a.seq - b.seq);
    if (sorted.length > 0 && sorted[0]!.seq < this.lastSeq) {
      const all = [...this.items.values(), ...sorted].sort((a, b) => a.seq - b.seq);
      this.items.clear();
      this.lanes.clear();
      for (const entry of all) this.insert(entry);
      return;
    }
    for (const entry of sorted) this.insert(entry);
  }

  /** The item is being marked done: still pending, but no longer its lane's head or in a batch. */
  hide(id: string): void {
    if (this.items.has(id)) this.hidden.add(id);
  }

  /** The mark failed: the item is back in its lane. */
  show(id: string): void {
    this.hidden.delete(id);
  }

  remove(id: string): void {
    const entry = this.items.get(id);
    if (!entry) return;
    this.items.delete(id);
    this.hidden.delete(id);
    if (!this.laneOf) return;
    const key = this.laneOf(entry.item.payload);
    const lane = this.lanes.get(key);
    lane?.delete(id);
    if (lane?.size === 0) this.lanes.delete(key);
  }

  clear(): void {
    this.items.clear();
    this.lanes.clear();
    this.hidden.clear();
    this.lastSeq = 0;
  }

  /** Every item, oldest first (those being marked done included). */
  pending(): OutboxItem<T>[] {
    return [...this.items.values()].map((entry) => entry.item);
  }

  /** The oldest item. */
  first(): OutboxItem<T> | undefined {
    return this.items.values().next().value?.item;
  }

  /** The oldest item of each lane not being marked done, oldest first (without lanes: every such item). */
  *heads(): IterableIterator<OutboxItem<T>> {
    if (!this.laneOf) {
      for (const entry of this.items.values()) if (!this.hidden.has(entry.item.id)) yield entry.item;
      return;
    }
    const heads: E[] = [];
    for (const lane of this.lanes.values()) {
      // The first that is not being marked done (almost always the very first).
      for (const entry of lane.values()) {
        if (this.hidden.has(entry.item.id)) continue;
        heads.push(entry);
        break;
      }
    }
    heads.sort((a, b) => a.seq - b.seq);
    for (const head of heads) yield head.item;
  }

  /** The first `limit` items of one lane not being marked done, oldest first. */
  laneItems(lane: string, limit: number): OutboxItem<T>[] {
    const items: OutboxItem<T>[] = [];
    const entries = this.laneOf ? (this.lanes.get(lane)?.values() ?? [].values()) : this.items.values();
    for (const entry of entries) {
      if (items.length >= limit) break;
      if (this.hidden.has(entry.item.id)) continue;
      if (!this.laneOf || this.laneOf(entry.item.payload) === lane) items.push(entry.item);
    }
    return items;
  }

  private insert(entry: E): void {
    const id = entry.item.id;
    this.items.set(id, entry);
    this.lastSeq = Math.max(this.lastSeq, entry.seq);
    if (!this.laneOf) return;
    const key = this.laneOf(entry.item.payload);
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new Map()));
    lane.set(id, entry);
  }
}
