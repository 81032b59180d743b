import type { FaultSpec } from "./types.js";

interface Armed extends FaultSpec {
  remaining: number;
  /** A storm's end (ms since the epoch); none for a fault counted by `times` only. */
  endsAt?: number;
}

/**
 * One-shot faults, matched in queue order against Open API / endpoint calls; a fault
 * hits `times` matching calls and is then gone — or, for a storm (`forMs`), every matching
 * call until its time is up. Plus a global latency for every call.
 */
export class Faults {
  latencyMs = 0;
  private readonly queue: Armed[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  add(spec: FaultSpec): void {
    const storm = spec.forMs !== undefined;
    const remaining =
      storm && spec.times === undefined ? Number.POSITIVE_INFINITY : Math.max(1, spec.times ?? 1);
    this.queue.push({
      ...spec,
      remaining,
      ...(storm ? { endsAt: this.now() + Math.max(0, spec.forMs!) } : {}),
    });
  }

  clear(): void {
    this.queue.length = 0;
    this.latencyMs = 0;
  }

  get pending(): number {
    this.expire();
    return this.queue.length;
  }

  /** Takes the first fault matching the call (consuming one of its `times`). */
  take(method: string, path: string): FaultSpec | undefined {
    this.expire();
    const index = this.queue.findIndex((f) => matches(f, method, path));
    if (index < 0) return undefined;
    const fault = this.queue[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.queue.splice(index, 1);
    return fault;
  }

  /** Storms whose time is up are gone. */
  private expire(): void {
    const now = this.now();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const endsAt = this.queue[i]!.endsAt;
      if (endsAt !== undefined && endsAt <= now) this.queue.splice(i, 1);
    }
  }
}

function matches(fault: FaultSpec, method: string, path: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method.toUpperCase()) return false;
  if (fault.path === undefined) return true;
  return typeof fault.path === "string" ? path.startsWith(fault.path) : fault.path.test(path);
}
