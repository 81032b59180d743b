import type { FaultSpec } from "./types.js";

interface Armed extends FaultSpec {
  remaining: number;
}

/**
 * One-shot faults, matched in queue order against Open API / endpoint calls; a fault
 * hits `times` matching calls and is then gone. Plus a global latency for every call.
 */
export class Faults {
  latencyMs = 0;
  private readonly queue: Armed[] = [];

  add(spec: FaultSpec): void {
    this.queue.push({ ...spec, remaining: Math.max(1, spec.times ?? 1) });
  }

  clear(): void {
    this.queue.length = 0;
    this.latencyMs = 0;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Takes the first fault matching the call (consuming one of its `times`). */
  take(method: string, path: string): FaultSpec | undefined {
    const index = this.queue.findIndex((f) => matches(f, method, path));
    if (index < 0) return undefined;
    const fault = this.queue[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.queue.splice(index, 1);
    return fault;
  }
}

function matches(fault: FaultSpec, method: string, path: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method.toUpperCase()) return false;
  if (fault.path === undefined) return true;
  return typeof fault.path === "string" ? path.startsWith(fault.path) : fault.path.test(path);
}
