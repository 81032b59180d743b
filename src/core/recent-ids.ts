/**
 * A set of the most recent `capacity` ids: the bounded memory behind duplicate and loop
 * protection. Adding beyond capacity forgets the oldest.
 *
 * With `indexLazily`, adding costs one array write and nothing else until the first `has`
 * builds the index (and keeps it from then on): a reader that records every line it reads
 * but looks ids up only after a rotation or a failure should not pay for an index on a
 * cold read of half a million lines. In that mode `add` does not tell whether the id was
 * there already (it always answers true).
 */
export class RecentIds {
  private readonly ring: string[];
  private next = 0;
  /** Id → how often it is in the ring (an id added twice stays until both copies are gone). */
  private index: Map<string, number> | undefined;

  constructor(
    readonly capacity: number,
    private readonly options: { indexLazily?: boolean } = {},
  ) {
    if (capacity < 1) throw new RangeError("capacity must be at least 1");
    // Grown as ids come, not allocated at capacity: an outbox remembers up to millions of done
    // ids, and each replica keeps one such set per target whether or not it ever fills.
    this.ring = [];
    if (!options.indexLazily) this.index = new Map();
  }

  has(id: string): boolean {
    return this.indexed().has(id);
  }

  /** Returns false when the id was already there (always true while a lazy index is not built). */
  add(id: string): boolean {
    const index = this.index;
    if (index && !this.options.indexLazily && index.has(id)) return false;
    if (this.ring.length < this.capacity) {
      // Not full yet: the ring is in insertion order, and `next` stays 0 (the oldest).
      this.ring.push(id);
      index?.set(id, (index.get(id) ?? 0) + 1);
      return true;
    }
    if (index) {
      const evicted = this.ring[this.next];
      if (evicted !== undefined) {
        const count = index.get(evicted)!;
        if (count <= 1) index.delete(evicted);
        else index.set(evicted, count - 1);
      }
      index.set(id, (index.get(id) ?? 0) + 1);
    }
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    return true;
  }

  get size(): number {
    return this.indexed().size;
  }

  /** The ids, oldest first. */
  *values(): IterableIterator<string> {
    const length = this.ring.length;
    for (let i = 0; i < length; i++) {
      const id = this.ring[(this.next + i) % length];
      if (id !== undefined) yield id;
    }
  }

  private indexed(): Map<string, number> {
    if (!this.index) {
      const index = new Map<string, number>();
      for (const id of this.ring) if (id !== undefined) index.set(id, (index.get(id) ?? 0) + 1);
      this.index = index;
    }
    return this.index;
  }
}
