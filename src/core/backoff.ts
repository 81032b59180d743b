export interface BackoffOptions {
  /** First delay. Small, so a dropped socket comes back fast. */
  baseMs: number;
  maxMs: number;
  factor?: number;
  /** Fraction of the delay that is random (0–1), so many clients do not retry in step. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 30_000, factor: 2, jitter: 0.3 };

/** Delay before attempt `attempt` (0-based): base × factor^attempt, capped, with jitter below the cap. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.3;
  const raw = Math.min(options.maxMs, options.baseMs * factor ** Math.max(0, attempt));
  return Math.round(raw * (1 - jitter + jitter * random()));
}
