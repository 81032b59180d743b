import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// An absolute URL, so children may run in any working folder.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Runs a TypeScript file of this project in a child Node process (through tsx). */
export function spawnTs(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ChildProcess {
  // CLAWBRIDGE_PROF=<dir>: profile the child (benchmarks' server processes) into that folder.
  const profile = process.env.CLAWBRIDGE_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CLAWBRIDGE_PROF}`]
    : [];
  const child = spawn(
    process.execPath,
    [...profile, "--import", tsxLoader, path.resolve(projectRoot, script), ...args],
    {
      cwd: options.cwd ?? projectRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

// A test that fails half-way must not leave its processes running (a `tail` follows forever).
// Benchmarks use these helpers too, outside vitest: only register the clean-up inside it.
const children = new Set<ChildProcess>();
if (process.env.VITEST) {
  const { afterEach } = await import("vitest");
  afterEach(() => {
    for (const child of children) child.kill("SIGKILL");
    children.clear();
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output and waits for it to exit. */
export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the clawbridge CLI from source. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Finished> {
  return finished(spawnTs("src/cli/main.ts", args, options));
}
