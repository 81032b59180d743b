import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * A real `openclaw gateway run` on loopback (Node 24, token auth, a fake model), started and
 * stopped by pid. NODE24 and OPENCLAW come from `.ci/install-conformance.sh`.
 */
export interface RealGateway {
  url: string;
  port: number;
  token: string;
  pid: number;
  dir: string;
  /** Kills the gateway (SIGKILL) and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, state and config. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export function conformanceEnv(): { node24: string; openclaw: string } | undefined {
  const node24 = process.env.NODE24;
  const openclaw = process.env.OPENCLAW;
  return node24 && openclaw ? { node24, openclaw } : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`openclaw exited with ${child.exitCode}:\n${output().slice(-3000)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`openclaw did not become ready in ${timeoutMs} ms:\n${output().slice(-3000)}`);
}

export async function startRealGateway(options: {
  modelUrl: string;
  node24: string;
  openclaw: string;
}): Promise<RealGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-openclaw-"));
  const port = await freePort();
  const token = `conformance-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  const config = {
    gateway: { mode: "local", auth: { mode: "token", token } },
    update: { checkOnStart: false },
    logging: { file: path.join(dir, "gateway.log") },
    models: {
      mode: "merge",
      catalogRefresh: { enabled: false },
      providers: {
        fake: {
          baseUrl: options.modelUrl,
          apiKey: "x",
          api: "openai-completions",
          models: [
            {
              id: "fake-model",
              name: "Fake",
              reasoning: false,
              input: ["text"],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow: 128000,
              maxTokens: 4096,
            },
          ],
        },
      },
    },
    agents: { defaults: { model: { primary: "fake/fake-model" } } },
  };
  writeFileSync(path.join(dir, "openclaw.json"), JSON.stringify(config, null, 2));
  let output = "";
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      options.node24,
      [options.openclaw, "gateway", "run", "--port", String(port), "--bind", "loopback", "--auth", "token"],
      {
        env: {
          PATH: `${path.dirname(options.node24)}:${process.env.PATH ?? ""}`,
          HOME: path.join(dir, "home"),
          OPENCLAW_STATE_DIR: path.join(dir, "state"),
          OPENCLAW_CONFIG_PATH: path.join(dir, "openclaw.json"),
          OPENCLAW_NO_AUTO_UPDATE: "1",
          OPENCLAW_DISABLE_BONJOUR: "1",
          OPENCLAW_NO_RESPAWN: "1",
          OPENCLAW_SKIP_CHANNELS: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000)));
    child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000)));
    await waitReady(port, child, () => output);
  };
  const kill = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once("exit", () => resolve());
      current.kill("SIGKILL");
    });
  };
  await launch();
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    token,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
