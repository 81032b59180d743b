/**
 * Waits `ms` on a real timer, or rejects with `signal.reason` as soon as the signal aborts
 * (how `close()` stops work that is waiting for a slot or a retry).
 *
 * The timer is deliberately *not* unref'd: a message waiting for its slot must keep the
 * process alive, or a short-lived CLI would exit with it unsent.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves after `ms` without holding the process open: for deadlines nobody must outlive. */
export function unrefSleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
