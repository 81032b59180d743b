import type { Envelope } from "../core/index.js";
import type { EnvelopeMeta, TailedEnvelope } from "./inbox-reader.js";

export type { TailedEnvelope } from "./inbox-reader.js";

/** Takes one envelope; the next is handed over once a returned promise resolves. */
export type EnvelopeHandler = (envelope: Envelope, meta: EnvelopeMeta) => void | Promise<void>;

/**
 * Takes one inbox's envelopes a chunk at a time, in file order, and resolves once every one
 * of them is handled. One that fails part-way throws `IncompleteBatch` saying how many came
 * first and were handled: those are not handed over again, the rest are (any other error
 * means none was handled).
 */
export type EnvelopeBatchHandler = (batch: readonly TailedEnvelope[]) => Promise<void>;

/** A batch handled up to (not including) `handled`; `cause` is why the next one failed. */
export class IncompleteBatch extends Error {
  constructor(
    readonly handled: number,
    override readonly cause: unknown,
  ) {
    super(`handled ${handled} envelope(s) of the batch, then failed`, { cause });
    this.name = "IncompleteBatch";
  }
}

/** How many of a failed batch were handled, and the error behind it. */
export function unwrapIncomplete(error: unknown): { handled: number; cause: unknown } {
  return error instanceof IncompleteBatch
    ? { handled: error.handled, cause: error.cause }
    : { handled: 0, cause: error };
}

/** A batch handler that hands the envelopes to `handler` one by one, each awaited. */
export function oneByOne(handler: EnvelopeHandler): EnvelopeBatchHandler {
  return async (batch) => {
    for (let index = 0; index < batch.length; index++) {
      const { envelope, meta } = batch[index]!;
      try {
        await handler(envelope, meta);
      } catch (error) {
        throw new IncompleteBatch(index, error);
      }
    }
  };
}
