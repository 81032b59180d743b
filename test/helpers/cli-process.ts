import type { ChildProcess } from "node:child_process";
import { finished, spawnTs, type Finished } from "./spawn.js";
import { waitFor } from "./wait.js";

/** A long-running `clawbridge` child (e.g. `start`), its output readable while it runs. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** stderr without the JSON log lines: what a person reads in the terminal. */
  said(): string;
  /** Resolves when the process has exited and its streams are closed. */
  exit: Promise<Finished>;
  /**
   * Waits until stderr matches `pattern` and returns the match; fails at once (with the
   * output) if the process exits first.
   */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** Runs the clawbridge CLI from source as a child process (killed after the test by spawn.ts). */
export function launchCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const child = spawnTs("src/cli/main.ts", args, options);
  const exit = finished(child);
  let stderr = "";
  child.stderr!.on("data", (chunk: string | Buffer) => (stderr += chunk.toString()));
  let exited: Finished | undefined;
  void exit.then((result) => (exited = result));
  const proc: CliProcess = {
    child,
    pid: child.pid!,
    stderr: () => stderr,
    said: () => humanLines(stderr),
    exit,
    waitForStderr: async (pattern, timeoutMs = 30_000) => {
      type Seen = { match: RegExpExecArray } | { exited: Finished };
      const seen = await waitFor(
        (): Seen | undefined => {
          const match = pattern.exec(stderr);
          if (match) return { match };
          return exited ? { exited } : undefined;
        },
        { timeoutMs, intervalMs: 20, what: () => `${pattern} on stderr; so far:\n${stderr}` },
      );
      if ("match" in seen) return seen.match;
      throw new Error(`exited with ${seen.exited.code ?? seen.exited.signal} before ${pattern}:\n${stderr}`);
    },
  };
  return proc;
}

/** The lines of `text` that are not JSON log records. */
export function humanLines(text: string): string {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("{"))
    .join("\n");
}
