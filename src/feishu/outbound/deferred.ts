/**
 * A promise with its resolve/reject, plus `settled`, which resolves either way: `flush()`
 * waits on it without attaching a handler to the caller's promise (a rejection the caller
 * ignores stays an unhandled rejection, as with any other promise).
 */
export interface Deferred<T> {
  promise: Promise<T>;
  settled: Promise<void>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolvePromise!: (value: T) => void;
  let rejectPromise!: (error: unknown) => void;
  let markSettled!: () => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolvePromise = resolve;
    rejectPromise = reject;
  });
  const settled = new Promise<void>((resolve) => (markSettled = resolve));
  return {
    promise,
    settled,
    resolve(value) {
      resolvePromise(value);
      markSettled();
    },
    reject(error) {
      rejectPromise(error);
      markSettled();
    },
  };
}
