import type { OutboxItem } from "./outbox-types.js";
import type { StreamEntry } from "./redis-stream-replies.js";

/**
 * What this replica has claimed, in seq order, and indexed by lane as in `Outbox` so that
 * `laneHeads` costs the number of lanes. Entries come in seq order but for the rare late
 * claim, which re-sorts.
 */
export class LaneView<T> {
  readonly items = new Map<string, StreamEntry<T>>();
  private readonly lanes = new Map<string, Map<string, StreamEntry<T>>>();
  /** Items being marked done: still claimed, but no longer any lane's head or batch. */
  private readonly hidden = new Set<string>();
  private lastSeq = 0;

  // Typed on `unknown`, as in Outbox, so a RedisOutbox<X> passes for a RedisOutbox<unknown>.
  constructor(private readonly laneOf: ((payload: unknown) => string) | undefined) {}

  add(entries: StreamEntry<T>[]): void {
    const sorted = [...entries].sort((a, b) => a.seq - b.seq);
    if (sorted.length > 0 && sorted[0]!.seq < this.lastSeq) {
      const all = [...this.items.values(), ...sorted].sort((a, b) => a.seq - b.seq);
      this.items.clear();
      this.lanes.clear();
      for (const entry of all) this.insert(entry);
      return;
    }
    for (const entry of sorted) this.insert(entry);
  }

  hide(id: string): void {
    if (this.items.has(id)) this.hidden.add(id);
  }

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

  *heads(): IterableIterator<OutboxItem<T>> {
    if (!this.laneOf) {
      for (const entry of this.items.values()) if (!this.hidden.has(entry.item.id)) yield entry.item;
      return;
    }
    const heads: StreamEntry<T>[] = [];
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

  private insert(entry: StreamEntry<T>): void {
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
