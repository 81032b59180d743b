/** One benchmark result, printed as one JSON line: `name`, `value`, `unit`, `goal`, `ok`, then context. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** e.g. "<= 20" or ">= 300000". */
  goal?: string;
  ok?: boolean;
  [context: string]: unknown;
}

export function atMost(
  name: string,
  value: number,
  unit: string,
  limit: number,
  context: Record<string, unknown> = {},
): BenchResult {
  return { name, value: round(value), unit, goal: `<= ${limit}`, ok: value <= limit, ...context };
}

export function atLeast(
  name: string,
  value: number,
  unit: string,
  floor: number,
  context: Record<string, unknown> = {},
): BenchResult {
  return { name, value: round(value), unit, goal: `>= ${floor}`, ok: value >= floor, ...context };
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The p-th percentile (0–100) by nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function latencyContext(samples: readonly number[]): Record<string, number> {
  return {
    samples: samples.length,
    p50: round(percentile(samples, 50)),
    p99: round(percentile(samples, 99)),
    max: round(Math.max(...samples)),
  };
}

/** Wall-clock milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
