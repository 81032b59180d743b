import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * A real `redis-server` (Debian's package) for one test: its own folder, a free loopback
 * port, started here and stopped by its pid. `restart()` keeps the folder, so with
 * `appendOnly` what was written before comes back (Redis restarted mid-run).
 *
 * `.ci/run` installs the package when it is missing; outside CI a test may skip with
 * `redisSkipReason()` when there is none (the reason names the package).
 */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  pid(): number | undefined;
  /** SIGKILL (crash, what the append-only file is for) or SIGTERM (a clean shutdown). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port and folder. */
  restart(): Promise<void>;
}

const vitest = process.env.VITEST ? await import("vitest") : undefined;
vitest?.afterAll(stopAllRedis);

const REDIS_BINARY = process.env.REDIS_SERVER ?? "redis-server";
const started = new Set<RedisServer>();

/** Why Redis tests cannot run here, or undefined when they can. Under CI=true there is no excuse. */
export function redisSkipReason(): string | undefined {
  const probe = spawnSync(REDIS_BINARY, ["--version"], { encoding: "utf8" });
  if (probe.status === 0) return undefined;
  const reason = `no ${REDIS_BINARY} here (apt-get install redis-server, or set REDIS_SERVER)`;
  if (process.env.CI === "true") throw new Error(reason);
  return reason;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(
  options: { appendOnly?: boolean; password?: string } = {},
): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      options.appendOnly ? "yes" : "no",
      // Every write on disk before the reply: "Redis restarted, nothing lost" is the point.
      "--appendfsync",
      "always",
      "--daemonize",
      "no",
      "--logfile",
      path.join(dir, "redis.log"),
      ...(options.password ? ["--requirepass", options.password] : []),
    ];
    const proc = spawn(REDIS_BINARY, args, { stdio: "ignore" });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once("error", reject);
      proc.once("spawn", () => resolve());
    });
    await waitForPort(port, proc);
  };

  const server: RedisServer = {
    url: options.password
      ? `redis://:${encodeURIComponent(options.password)}@127.0.0.1:${port}`
      : `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => child?.pid,
    stop: async (signal = "SIGKILL") => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      process.kill(proc.pid!, signal);
      await exited;
    },
    restart: async () => {
      await server.stop("SIGKILL");
      await launch();
    },
  };
  await launch();
  started.add(server);
  // Started inside a test: stopped when that test ends. Started in beforeAll: by afterAll.
  if (vitest) {
    try {
      vitest.onTestFinished(() => stopOne(server));
    } catch {
      // not inside a test
    }
  }
  return server;
}

async function stopOne(server: RedisServer): Promise<void> {
  if (!started.delete(server)) return;
  await server.stop("SIGKILL");
  rmSync(server.dir, { recursive: true, force: true });
}

/** Stops every server this process started and removes their folders (afterAll, and at exit). */
export async function stopAllRedis(): Promise<void> {
  for (const server of [...started]) await stopOne(server);
}

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

process.once("exit", () => {
  for (const server of started) {
    const pid = server.pid();
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});
