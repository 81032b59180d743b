import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../../test/helpers/spawn.js";
import type { ReplyScript, RunInfo } from "../../src/sim/fake-gateway.js";
import { within } from "../lib/within.js";

/** An `agent` request as it arrived at a fake gateway: `at` is the fake's `received[].at`. */
export interface Arrival {
  node: string;
  /** The request's `idempotencyKey` (the envelope id). */
  key: string;
  at: number;
}

/** When an `agent` run ended at a fake gateway: `at` is just after it sent its final events. */
export interface RunEnd {
  node: string;
  /** The run id (the request's idempotency key). */
  runId: string;
  status: RunInfo["status"];
  at: number;
}

/** One `agent` run as a fake gateway holds it now. */
export interface RunState {
  runId: string;
  status: RunInfo["status"];
  /** The assistant text streamed so far (the final text once finished). */
  text: string;
}

/** `fakes-process.ts <spec JSON>`: the fake gateways it starts. */
export interface FakesSpec {
  token: string;
  nodes: { name: string; script: ReplyScript }[];
  /** Record when each `agent` run ends (taken with `ends`); off by default. */
  recordEnds?: boolean;
}

/** Parent → child; every command carries an `id` its answer repeats. */
export type Command =
  /** Fakes: `sayInGroup` on `node`'s fake (one chunk, no delay); answers `said`. */
  | { id: number; type: "say"; node: string; chatId: string; text: string }
  /** Fakes: the arrivals recorded since the last `drain`; answers `arrivals`. */
  | { id: number; type: "drain" }
  /** Fakes: the run ends recorded since the last `ends` (`recordEnds`); answers `ends`. */
  | { id: number; type: "ends" }
  /** Fakes: every `agent` run of `node`'s fake as it is now; answers `runs`. */
  | { id: number; type: "runs"; node: string }
  /**
   * Bridge: `relay.stats()`, the tasks and memory; answers `stats`. With `gc`, a full garbage
   * collection first (the child needs `--expose-gc`, see `Child`'s `execArgv`).
   */
  | { id: number; type: "stats"; resetPeak?: boolean; gc?: boolean }
  /** Both: close everything and exit; answers `stopped` first. */
  | { id: number; type: "stop" };

export type Answer =
  | { id: number; type: "said"; runId: string; at: number }
  | { id: number; type: "arrivals"; arrivals: Arrival[]; cpuMs: number }
  | { id: number; type: "ends"; ends: RunEnd[] }
  | { id: number; type: "runs"; runs: RunState[] }
  | {
      id: number;
      type: "stats";
      pending: number;
      outboxes: Record<string, { pending: number; inFlight: number }>;
      rssMb: number;
      heapUsedMb: number;
      heapTotalMb: number;
      /** C++ objects bound to JS, Buffers included (`memoryUsage().external`). */
      externalMb: number;
      arrayBuffersMb: number;
      /** Highest RSS sampled (every 20 ms) since the last `resetPeak`. */
      peakRssMb: number;
      /** The process's lifetime peak (`resourceUsage().maxRSS`). */
      maxRssMb: number;
      cpuMs: number;
      /** The task layer: tasks the journal keeps, how many are open, the highest task number. */
      tasks: { kept: number; open: number; lastSeq: number };
    }
  | { id: number; type: "stopped" }
  | { id: number; type: "error"; message: string };

/** The bridge's answer to `stats`. */
export type StatsAnswer = Extract<Answer, { type: "stats" }>;

/** First message of a child: it is up. */
export interface Ready {
  type: "ready";
  /** Fakes: node → ws url. Bridge: its HTTP url under `bridge`. */
  urls: Record<string, string>;
}

// An absolute URL, so children may run in any working folder (as in test/helpers/spawn.ts).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/**
 * A TypeScript file of this project in a child Node process (through tsx) with an IPC
 * channel: `call` sends a command and resolves with its answer. Set `CLAWBRIDGE_BENCH_PROF`
 * to a folder to have the child write a CPU profile there (`--cpu-prof`).
 */
export class Child {
  readonly process: ChildProcess;
  readonly ready: Promise<Ready>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = "";
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();

  constructor(
    script: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; readyMs?: number; execArgv?: string[] } = {},
  ) {
    const profile = process.env.CLAWBRIDGE_BENCH_PROF;
    this.process = fork(path.resolve(projectRoot, script), args, {
      cwd: projectRoot,
      env: { ...process.env, ...options.env },
      execArgv: [
        ...(options.execArgv ?? []),
        "--import",
        tsxLoader,
        ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.process.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      // Keep the end only: a chatty child must not grow the bench's memory.
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.exited = new Promise((resolve) => {
      this.process.once("exit", (code, signal) => {
        const error = new Error(`${script} exited (${code ?? signal}): ${this.stderr.slice(-2_000)}`);
        for (const waiter of this.waiting.values()) waiter.reject(error);
        this.waiting.clear();
        resolve({ code, signal });
      });
    });
    this.ready = within(
      new Promise<Ready>((resolve, reject) => {
        this.process.on("message", (message: Ready | Answer) => {
          if (message.type === "ready") return resolve(message);
          const waiter = this.waiting.get(message.id);
          this.waiting.delete(message.id);
          if (message.type === "error") waiter?.reject(new Error(message.message));
          else waiter?.resolve(message);
        });
        void this.exited.then(() =>
          reject(new Error(`${script} exited early: ${this.stderr.slice(-2_000)}`)),
        );
      }),
      options.readyMs ?? 30_000,
      `${script} to start`,
    );
  }

  /** Sends a command; its answer, or an error after `timeoutMs`. */
  call<T extends Answer["type"]>(
    command: DistributiveOmit<Command, "id">,
    expect: T,
    timeoutMs = 10_000,
  ): Promise<Extract<Answer, { type: T }>> {
    const id = this.nextId++;
    const answer = new Promise<Answer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.process.send({ ...command, id } as Command);
    }).then((a) => {
      if (a.type !== expect) throw new Error(`expected ${expect}, got ${a.type}`);
      return a as Extract<Answer, { type: T }>;
    });
    return within(answer, timeoutMs, `the answer to ${command.type}`).finally(() => this.waiting.delete(id));
  }

  /** Asks the child to stop; kills it if it has not exited within `ms` (a bench does not wait on a busy child). */
  async stop(ms = 5_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const killer = setTimeout(() => this.process.kill("SIGKILL"), ms);
    void this.call({ type: "stop" }, "stopped", ms).catch(() => undefined);
    await this.exited;
    clearTimeout(killer);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The child side: answers commands with `handle`, reports `ready`. */
export function serve(handle: (command: Command) => Promise<Answer> | Answer): (ready: Ready) => void {
  process.on("message", (command: Command) => {
    void (async () => {
      let answer: Answer;
      try {
        answer = await handle(command);
      } catch (error) {
        answer = { id: command.id, type: "error", message: String(error) };
      }
      process.send!(answer);
      if (answer.type === "stopped") process.disconnect();
    })();
  });
  // The parent went away (crashed, killed): do not linger.
  process.on("disconnect", () => setTimeout(() => process.exit(0), 100).unref());
  return (ready) => process.send!(ready);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
