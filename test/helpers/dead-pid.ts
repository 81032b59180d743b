import { spawn } from "node:child_process";
import { once } from "node:events";

/** A pid that certainly existed and is now gone: a child Node process that has exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid!;
  await once(child, "exit");
  return pid;
}
