/**
 * What each lane's deliveries led to (the answer, the mirror line), written in the lane's
 * order while the lane's next delivery is already under way. Waiting for those writes before
 * the next delivery cost every lane a round trip per item (among replicas, to Redis; with the
 * file store, a journal append). A delivery's effects are started only once the previous
 * ones of its lane are written, so they stay in order; when those failed, `before` throws
 * their error (once) and the delivery is tried again later, after the item that failed,
 * whose done mark waited for its effects and is not written (see `OutboxStore.done`).
 */
export class LaneEffects {
  private readonly latest = new Map<string, Promise<void>>();

  /** Waits for the lane's effects still being written; throws (retryable), once, if they failed. */
  async before(lane: string): Promise<void> {
    const previous = this.latest.get(lane);
    if (!previous) return;
    try {
      await previous;
    } catch (error) {
      if (this.latest.get(lane) === previous) this.latest.delete(lane);
      // Retryable whatever the cause: this delivery's own effects were never tried, and must
      // not be given up (dead-lettered) for an error that was the previous item's.
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `an earlier answer of this lane was not written (${reason}); this one goes again after it`,
        {
          cause: error,
        },
      );
    }
  }

  /** Starts writing a delivery's effects as its lane's latest; the result is what its done mark waits for. */
  start(lane: string, effects: () => Promise<void>): Promise<void> {
    const started = effects();
    this.latest.set(lane, started);
    // A failure stays for the lane's next `before` to report; a success is forgotten.
    started.then(
      () => {
        if (this.latest.get(lane) === started) this.latest.delete(lane);
      },
      () => {},
    );
    return started;
  }

  /** Resolves once every effect started so far is written or has failed (before outboxes close). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.latest.values()]);
  }
}
