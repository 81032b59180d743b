import type { ChildProcess } from "node:child_process";
import { finished, spawnTs, type Finished } from "./spawn.js";
import { waitFor } from "./wait.js";

/** The bridge as a child process (`test/helpers/bridge-process.ts`), started again after each kill. */
export class BridgeRunner {
  child?: ChildProcess;
  url?: string;
  private exit?: Promise<Finished>;
  readonly starts: number[] = [];
  readonly outputs: Finished[] = [];

  constructor(
    private readonly world: { configPath: string; env: NodeJS.ProcessEnv },
    private readonly logFile: string,
    /** Flags for bridge-process.ts (`--relax-outbound`, `--replay`). */
    private readonly flags: string[] = ["--relax-outbound"],
  ) {}

  async start(): Promise<void> {
    const began = Date.now();
    const child = spawnTs(
      "test/helpers/bridge-process.ts",
      [this.world.configPath, this.logFile, ...this.flags],
      { env: this.world.env },
    );
    const exit = finished(child);
    let ready: string | undefined;
    let exited = false;
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer | string) => {
      buffered += String(chunk);
      ready ??= /^ready (\S+)$/m.exec(buffered)?.[1];
    });
    void exit.then(() => (exited = true));
    await waitFor(() => ready ?? exited, {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: "the bridge to be ready",
    });
    if (!ready) {
      const result = await exit;
      throw new Error(`the bridge exited at start (${result.code ?? result.signal}): ${result.stderr}`);
    }
    this.child = child;
    this.exit = exit;
    this.url = ready;
    this.starts.push(Date.now() - began);
  }

  async kill(): Promise<Finished> {
    this.child!.kill("SIGKILL");
    const result = await this.exit!;
    this.outputs.push(result);
    return result;
  }

  async stop(): Promise<Finished> {
    this.child!.kill("SIGTERM");
    const result = await this.exit!;
    this.outputs.push(result);
    return result;
  }

  /** Pending and in-flight work per outbox, from `/healthz`. */
  async relayStats(): Promise<Record<string, { pending: number; inFlight: number }> | undefined> {
    try {
      const response = await fetch(`${this.url}/healthz`);
      const body = (await response.json()) as {
        relay?: Record<string, { pending: number; inFlight: number }>;
      };
      return body.relay;
    } catch {
      return undefined;
    }
  }
}
