import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger, SecretRegistry, type Logger } from "../../src/core/index.js";
import { sleep, type Arrival, type Child } from "./ipc.js";

/** A made-up gateway token, long enough to be redacted by value; the config reads it from the environment. */
export const GATEWAY_TOKEN = "bench-gateway-token-0123456789";

/**
 * Loop prevention counts forwards per pair of nodes (20 a minute by default) and would stop a
 * benchmark after a few seconds: the bench configs raise it far above what they send.
 */
export const BENCH_BUDGET = { perPairPerMinute: 1_000_000, cooldownSeconds: 1 };

/** The machine's state, for reading tail latencies: other processes compete for few cores. */
export function machine(): { cpus: number; loadavg1: number } {
  return { cpus: os.cpus().length, loadavg1: Math.round(os.loadavg()[0]! * 100) / 100 };
}

/** Writes `config` as the bridge's config file in `dir`; returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, "clawbridge.json5");
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A logger for a bridge in this process: warnings and errors are counted and the last few kept. */
export function countingLogger(secrets: string[]): {
  logger: Logger;
  warnings: () => number;
  last: string[];
} {
  const last: string[] = [];
  let count = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        count++;
        last.push(line.slice(0, 500));
        if (last.length > 5) last.shift();
      }
      callback();
    },
  });
  const registry = new SecretRegistry();
  for (const secret of secrets) registry.add(secret);
  return {
    logger: createLogger({ destination: stream, secrets: registry, level: "warn", pretty: false }),
    warnings: () => count,
    last,
  };
}

/**
 * The `agent` requests the fakes received, by idempotency key (the first arrival wins; later
 * ones are counted as duplicates), fetched from the fakes' process on `drain`.
 */
export class ArrivalLog {
  readonly first = new Map<string, Arrival>();
  duplicates = 0;
  /** The fakes' process CPU time at the last drain (ms). */
  fakesCpuMs = 0;

  constructor(private readonly fakes: Child) {}

  async drain(): Promise<void> {
    const { arrivals, cpuMs } = await this.fakes.call({ type: "drain" }, "arrivals");
    this.fakesCpuMs = cpuMs;
    for (const arrival of arrivals) {
      if (this.first.has(arrival.key)) this.duplicates++;
      else this.first.set(arrival.key, arrival);
    }
  }

  /** Drains every `intervalMs` until `done()` or `timeoutMs`; true when `done()`. */
  async until(done: () => boolean, timeoutMs: number, intervalMs = 20): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.drain();
      if (done()) return true;
      if (performance.now() >= deadline) return false;
      await sleep(intervalMs);
    }
  }

  has(keys: Iterable<string>): boolean {
    for (const key of keys) if (!this.first.has(key)) return false;
    return true;
  }

  clear(): void {
    this.first.clear();
    this.duplicates = 0;
  }
}
