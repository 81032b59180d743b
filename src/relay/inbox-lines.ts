import type { Envelope } from "../core/index.js";
import { IncompleteBatch, unwrapIncomplete, type EnvelopeBatchHandler } from "../mailbox/index.js";
import type { Relay } from "./relay.js";

/** The task layer's part of inbox lines: which lines it must see, and how it takes one. */
export interface TasksFirst {
  concerns(envelope: Envelope): boolean;
  handle(envelope: Envelope): Promise<void>;
}

/**
 * A bridge's inbox handler: each read chunk goes to the relay at once, except that a line
 * the task layer must see (`concerns`) is handed to it once the lines before it are done
 * and before its own relay part — the order that handling one line at a time gives.
 */
export function inboxLinesHandler(relay: Relay, tasksFirst: TasksFirst): EnvelopeBatchHandler {
  return async (batch) => {
    // Lines before `start` are done; the task layer has seen the line at `start`, if it concerns it.
    let start = 0;
    const relayUpTo = async (end: number) => {
      if (end <= start) return;
      const lines = batch
        .slice(start, end)
        .map(({ envelope, meta }) => ({ envelope, source: { inbox: meta.inbox, end: meta.end } }));
      try {
        await relay.handleMailboxLines(lines);
      } catch (error) {
        const { handled, cause } = unwrapIncomplete(error);
        throw new IncompleteBatch(start + handled, cause);
      }
      start = end;
    };
    for (let index = 0; index < batch.length; index++) {
      const { envelope } = batch[index]!;
      if (!tasksFirst.concerns(envelope)) continue;
      await relayUpTo(index);
      try {
        await tasksFirst.handle(envelope);
      } catch (error) {
        throw new IncompleteBatch(index, error);
      }
    }
    await relayUpTo(batch.length);
  };
}
