import { isClawbridgeError, type ClawbridgeError } from "../../src/core/index.js";

/**
 * Awaits a promise that must reject with a `ClawbridgeError` and returns that error, so a
 * test can assert on its code, message, fix and details; anything else fails the test.
 */
export async function rejection(promise: Promise<unknown>): Promise<ClawbridgeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isClawbridgeError(error)) throw new Error(`expected a ClawbridgeError, got ${String(error)}`);
  return error;
}
