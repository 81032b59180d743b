import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

// Real file-system faults for the fault suite: a small tmpfs that fills up, a bind mount
// remounted read-only. `chmod` cannot make a folder read-only for root (tests run as root
// in the container), and the code has no seam for injected I/O errors; a mount gives the
// kernel's own EROFS and ENOSPC on exactly the paths the bridge uses. Mounting needs root
// (CAP_SYS_ADMIN): where it is not allowed, `mountsWork` is false and the tests that need
// it are skipped, saying why.

const mounted: string[] = [];

function run(args: string[]): void {
  execFileSync("mount", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Whether this process may mount (tried once, on a throwaway folder). */
export const mountsWork: boolean = (() => {
  if (process.platform !== "linux") return false;
  const probe = path.join(os.tmpdir(), `clawbridge-mount-probe-${process.pid}`);
  try {
    mkdirSync(probe, { recursive: true });
    run(["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]);
    execFileSync("umount", [probe]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

export const WHY_SKIPPED = "mounting is not allowed here (needs root with CAP_SYS_ADMIN on Linux)";

/** Mounts a tmpfs of `bytes` on `dir` (created if missing); unmounted after the test. */
export function mountTmpfs(dir: string, bytes: number): void {
  mkdirSync(dir, { recursive: true });
  run(["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  mounted.push(dir);
}

/** Shows `source` at `target` (a bind mount, as a share is mounted on a client); unmounted after the test. */
export function bindMount(source: string, target: string): void {
  mkdirSync(target, { recursive: true });
  run(["--bind", source, target]);
  mounted.push(target);
}

/** Makes a bind mount read-only or writable again, in place: open files and watches live on. */
export function setReadOnly(target: string, readOnly: boolean): void {
  run(["-o", `remount,bind,${readOnly ? "ro" : "rw"}`, target]);
}

/** Unmounts now (lazily: a file the bridge still has open does not keep it busy). */
export function unmount(dir: string): void {
  execFileSync("umount", ["-l", dir]);
  const at = mounted.lastIndexOf(dir);
  if (at >= 0) mounted.splice(at, 1);
}

/**
 * Fills the file system holding `dir` with a file until a write fails with ENOSPC; returns
 * the filler's path (remove it to free the space). The kernel, not the test, says "full".
 */
export function fillUp(dir: string): string {
  const filler = path.join(dir, ".filler");
  const fd = openSync(filler, "a");
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
  // The last pages a short write left over: fill those too.
  const tail = openSync(filler, "a");
  try {
    for (;;) writeSync(tail, Buffer.alloc(512, 0x78));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(tail);
  }
  return filler;
}

// Before the temp folders are removed (their afterEach was registered first, so it runs later).
afterEach(() => {
  for (const dir of mounted.splice(0).reverse()) {
    try {
      execFileSync("umount", ["-l", dir]);
    } catch {
      // Already gone (the test unmounted it, or the folder was removed).
    }
  }
});

/**
 * Turns the folder `root` into a mount of itself, as a share is on a client: its content
 * moves to `<root>.server` (the file server's side, where other machines keep writing) and
 * is bind-mounted back at `root`. Returns the server side's path.
 */
export function serveAsMount(root: string): string {
  const server = `${root}.server`;
  renameSync(root, server);
  bindMount(server, root);
  return server;
}
