import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import JSON5 from "json5";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../../src/config/index.js";
import { launchCli } from "../../helpers/cli-process.js";
import { finished, projectRoot, type Finished } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";
import {
  copies,
  durationMs,
  envOf,
  execForm,
  healthcheck,
  isIgnored,
  parseStages,
  runCommands,
  type Stage,
} from "./dockerfile.js";

// No container engine runs here (nor in CI), so the image is checked in its parts:
//  1. statically: the Dockerfile's stages, user, volumes, health check and entry point, the
//     .dockerignore, compose.yaml and the container config and SMB mount in docs/deployment.md;
//  2. always: the image's start command (ENTRYPOINT + CMD, from source) runs the bridge on
//     the container layout, and its HEALTHCHECK command passes while it serves and fails after;
//  3. in CI (or with CLAWBRIDGE_DOCKER_INSTALL=1): both stages replayed in temp folders — the
//     build stage's `npm ci` and `npm run build`, the runtime stage's exact `npm ci --omit=dev`
//     (with --prefer-offline, from npm's cache), the COPY lines — then the built dist/ started
//     with the image's ENTRYPOINT and CMD and probed with its HEALTHCHECK.

const read = (file: string) => readFileSync(path.join(projectRoot, file), "utf8");
const dockerfile = read("Dockerfile");
const dockerignore = read(".dockerignore");
const stages = parseStages(dockerfile);
const runtime = stages.at(-1)!;
const build = stages.find((stage) => stage.name === "build")!;
const pkg = JSON.parse(read("package.json")) as {
  version: string;
  files: string[];
  bin: Record<string, string>;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const yaml = createRequire(import.meta.url)("js-yaml") as { load(text: string): unknown };

const RUNNING =
  /clawbridge is running on (http:\/\/127\.0\.0\.1:\d+) \(config (.+); metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\); Ctrl-C stops it/;

function only(stage: Stage, keyword: string): string {
  const found = stage.instructions.filter((each) => each.keyword === keyword);
  expect(found, `${keyword} in stage ${stage.name}`).toHaveLength(1);
  return found[0]!.args;
}

const entrypoint = () => execForm(only(runtime, "ENTRYPOINT"));
const cmd = () => execForm(only(runtime, "CMD"));
const volumes = () => execForm(only(runtime, "VOLUME"));
/** `USER 1000:1000` → `{uid: "1000", gid: "1000"}`. */
function user(): { uid: string; gid: string } {
  const [uid = "", gid = uid] = only(runtime, "USER").split(":");
  return { uid, gid };
}
/** The `--config` path the image's CMD starts with. */
function configPath(): string {
  const args = cmd();
  return args[args.indexOf("--config") + 1]!;
}

/** The container config docs/deployment.md gives: the json5 block headed by its path. */
function containerConfigText(): string {
  const blocks = [...read("docs/deployment.md").matchAll(/```json5\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((text) => text.split("\n")[0]!.includes(configPath()));
  expect(block, `a json5 block in docs/deployment.md whose first line names ${configPath()}`).toBeDefined();
  return block!;
}

const SECRETS = {
  FEISHU_APP_ID: "cli_0123456789abcdef",
  FEISHU_APP_SECRET: "app-secret",
  AI_PC_TOKEN: "gateway-token",
};

/** `//server/share /mnt/point cifs options 0 0` lines (in compose.yaml's comments, in the docs). */
function fstabLines(text: string): { device: string; mountPoint: string; options: string[] }[] {
  return text
    .split("\n")
    .map((line) => /^[\s#]*(\/\/\S+)\s+(\/\S*)\s+cifs\s+(\S+)\s+\d\s+\d\s*$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ device: match[1]!, mountPoint: match[2]!, options: match[3]!.split(",") }));
}

interface ComposeService {
  build?: string | { context: string };
  env_file?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: string[];
  stop_grace_period?: string;
  healthcheck?: { disable?: boolean };
  user?: string;
}

function compose(): { services: Record<string, ComposeService>; volumes?: Record<string, unknown> } {
  return yaml.load(read("compose.yaml")) as ReturnType<typeof compose>;
}

/** Short volume syntax `source:target[:mode]`, `${VAR:-default}` taken at its default. */
function parseVolume(spec: string): { source: string; target: string; mode?: string } {
  const resolved = spec.replace(/\$\{\w+:-([^}]*)\}/g, "$1");
  const [source = "", target = "", mode] = resolved.split(":");
  return { source, target, ...(mode ? { mode } : {}) };
}

describe("Dockerfile", () => {
  it("has two stages on node:24-slim: build, then the runtime image", () => {
    expect(stages.map((stage) => stage.image)).toEqual(["node:24-slim", "node:24-slim"]);
    expect(stages.map((stage) => stage.name)).toEqual(["build", "runtime"]);
  });

  it("build stage: every dependency without running `prepare` before the sources, then the build", () => {
    const runs = runCommands(build).map((run) => run.command);
    const install = runs.findIndex((command) => /^npm ci\b/.test(command));
    expect(install, runs.join("\n")).toBeGreaterThanOrEqual(0);
    expect(runs[install]).not.toMatch(/--omit/);
    // `prepare` (npm run build) would run inside `npm ci` before src/ is copied.
    expect(pkg.scripts.prepare).toMatch(/build/);
    expect(runs[install]).toMatch(/--ignore-scripts/);
    expect(runs).toContain("npm run build");
    // The sources arrive after the install (its layer survives edits to src/) and before the build.
    const order = build.instructions.map((each) => `${each.keyword} ${each.args}`);
    const at = (pattern: RegExp) => order.findIndex((line) => pattern.test(line));
    expect(at(/^RUN .*npm ci/)).toBeLessThan(at(/^COPY src /));
    expect(at(/^COPY src /)).toBeLessThan(at(/^RUN npm run build$/));
  });

  it("runtime stage: production dependencies from the lockfile only, dist/ from the build stage", () => {
    const installs = runCommands(runtime).filter((run) => /^npm (ci|install|i)\b/.test(run.command));
    expect(installs).toHaveLength(1);
    expect(installs[0]!.command).toMatch(/^npm ci /);
    expect(installs[0]!.command).toMatch(/--omit=dev/);
    expect(installs[0]!.command).toMatch(/--ignore-scripts/);
    const copied = copies(runtime);
    // The build stage's node_modules (dev dependencies included) must not come along.
    expect(copied.filter((c) => c.from === "build").flatMap((c) => c.sources)).toEqual(["/app/dist"]);
    expect(copied.flatMap((c) => c.sources)).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json"]),
    );
    // What the npm package ships ("files") is in the image too.
    const shipped = copied.flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, "")));
    for (const file of pkg.files) expect(shipped, `package.json files: ${file}`).toContain(file);
  });

  it("runs as a non-root user that owns the state and shared-folder mount points", () => {
    const { uid, gid } = user();
    expect(uid).toMatch(/^\d+$/); // numeric: Kubernetes' runAsNonRoot can verify it
    expect(uid).not.toBe("0");
    const order = runtime.instructions.map((each) => each.keyword);
    expect(order.lastIndexOf("USER")).toBeLessThan(order.indexOf("ENTRYPOINT"));
    const chown = runCommands(runtime).find((run) => run.command.startsWith("chown "));
    expect(chown?.command).toContain(`${uid}:${gid}`);
    for (const volume of volumes().filter((v) => v !== path.posix.dirname(configPath()))) {
      expect(chown?.command, `chown of ${volume}`).toContain(volume);
    }
  });

  it("declares config, state and the shared folder as volumes, where the container config puts them", () => {
    const declared = volumes();
    expect(declared).toContain(path.posix.dirname(configPath()));
    const { config } = parseConfigText(containerConfigText(), { env: SECRETS, baseDir: "/config" });
    expect(declared).toContain(config.mailbox.root);
    expect(declared).toContain(config.state.dir);
    // The shared folder sits where the example config already says it is.
    const example = JSON5.parse(read("config/clawbridge.example.json5")) as { mailbox: { root: string } };
    expect(config.mailbox.root).toBe(example.mailbox.root);
    // `clawbridge doctor` in the container finds the same config without --config.
    expect(envOf(runtime).CLAWBRIDGE_CONFIG).toBe(configPath());
  });

  it("starts the package's own bin with `start --config …`", () => {
    expect(entrypoint()).toEqual(["node", pkg.bin.clawbridge]);
    expect(pkg.bin.clawbridge).toBe("dist/cli/main.js");
    expect(existsSync(path.join(projectRoot, "src/cli/main.ts"))).toBe(true);
    expect(cmd()).toEqual(["start", "--config", configPath()]);
  });

  it("checks /healthz with Node's fetch (no curl in the slim image), bounded below Docker's timeout", () => {
    const check = healthcheck(runtime)!;
    expect(check.command.slice(0, 2)).toEqual(["node", "-e"]);
    expect(check.command[2]).toContain("/healthz");
    const inner = /AbortSignal\.timeout\((\d+)\)/.exec(check.command[2]!);
    expect(Number(inner?.[1])).toBeLessThan(durationMs(check.options.timeout!));
    expect(durationMs(check.options["start-period"]!)).toBeGreaterThanOrEqual(10_000);
    const url = new URL(envOf(runtime).CLAWBRIDGE_HEALTHCHECK_URL!);
    expect(url.pathname).toBe("/healthz");
    expect(url.hostname).toBe("127.0.0.1");
    // The default http.port, which the image exposes.
    expect(url.port).toBe("8787");
    expect(only(runtime, "EXPOSE")).toBe(url.port);
  });

  it(".dockerignore lets in what the build copies and keeps secrets and local state out", () => {
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => !c.from)) {
        for (const source of copy.sources) {
          expect(existsSync(path.join(projectRoot, source)), source).toBe(true);
          expect(isIgnored(dockerignore, source), `${source} is in the build context`).toBe(false);
        }
      }
    }
    expect(isIgnored(dockerignore, "src/cli/main.ts")).toBe(false);
    for (const kept of [
      ".env",
      ".env.production",
      "clawbridge.json5",
      "config/clawbridge.json5",
      ".clawbridge/identity/device.json",
      "node_modules/koa/package.json",
      "dist/app.js",
      ".git/HEAD",
      "test/helpers/bridge.ts",
    ]) {
      expect(isIgnored(dockerignore, kept), `${kept} stays out`).toBe(true);
    }
  });
});

describe("compose.yaml", () => {
  const service = () => Object.values(compose().services)[0]!;
  const mounts = () => (service().volumes ?? []).map(parseVolume);

  it("builds this Dockerfile and mounts every volume the image declares", () => {
    const built = service().build;
    expect(typeof built === "string" ? built : built?.context).toBe(".");
    expect(
      mounts()
        .map((m) => m.target)
        .sort(),
    ).toEqual([...volumes()].sort());
    expect(mounts().find((m) => m.target === path.posix.dirname(configPath()))?.mode).toBe("ro");
    const state = mounts().find((m) => m.target === "/state")!;
    expect(Object.keys(compose().volumes ?? {})).toContain(state.source);
    expect(service().user ?? only(runtime, "USER")).toBe(only(runtime, "USER"));
    expect(service().healthcheck?.disable ?? false).toBe(false);
  });

  it("takes secrets from an env file, never from compose.yaml itself", () => {
    const files = [service().env_file ?? []].flat();
    expect(files).toContain(".env");
    const environment = service().environment ?? {};
    const names = Array.isArray(environment)
      ? environment.map((e) => e.split("=")[0]!)
      : Object.keys(environment);
    for (const name of names) expect(name).not.toMatch(/SECRET|TOKEN|PASSWORD|KEY/i);
    // Comments aside (they explain the alternative), no password is written in the file.
    expect(JSON.stringify(compose())).not.toMatch(/password=/i);
  });

  it("lets the bridge finish its own bounded stop (10 s) before Docker kills it", () => {
    expect(durationMs(service().stop_grace_period ?? "10s")).toBeGreaterThan(10_000);
  });

  it("mounts the SMB share with a credentials file, iocharset=utf8 and the container user's uid/gid", () => {
    const { uid, gid } = user();
    const shared = mounts().find((m) => m.target === "/mnt/openclaw-shared")!;
    const lines = [...fstabLines(read("compose.yaml")), ...fstabLines(read("docs/deployment.md"))];
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(
        line.options.some((o) => /^credentials=\//.test(o)),
        line.options.join(","),
      ).toBe(true);
      expect(line.options).toContain("iocharset=utf8");
      expect(line.options).toContain(`uid=${uid}`);
      expect(line.options).toContain(`gid=${gid}`);
      expect(line.options.some((o) => /^(password|pass)=/.test(o))).toBe(false);
      // The host mount point is what compose binds into the container.
      expect(line.mountPoint).toBe(shared.source);
    }
  });
});

// ---- running the image's commands outside a container ---------------------------------------

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

/** A process of ours, killed after the test if it is still running. */
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** The image's HEALTHCHECK command against `url`; resolves with its exit code. */
async function healthcheckExit(url: string): Promise<number | null> {
  const [node, ...args] = healthcheck(runtime)!.command;
  expect(node).toBe("node");
  const child = track(
    spawn(process.execPath, args, {
      env: { ...process.env, CLAWBRIDGE_HEALTHCHECK_URL: url },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  return (await finished(child)).code;
}

/**
 * The container's folders under `dir` (`/config` → `dir/config` …) and a config in
 * `dir/config/clawbridge.json5` made from the documented container config: the same paths,
 * without Feishu and gateway nodes (nothing to reach here), listeners on free loopback ports.
 */
function containerLayout(dir: string) {
  const mapped = (containerPath: string) => {
    for (const volume of volumes()) {
      if (containerPath === volume || containerPath.startsWith(`${volume}/`)) {
        return path.join(dir, volume.replace(/^\//, ""), containerPath.slice(volume.length));
      }
    }
    return containerPath;
  };
  for (const volume of volumes()) mkdirSync(mapped(volume), { recursive: true });
  const documented = JSON5.parse(containerConfigText()) as Record<string, unknown> & {
    nodes: { url?: string }[];
    mailbox: { root: string };
    state: { dir: string };
  };
  const { feishu: _feishu, ...rest } = documented;
  const config = {
    ...rest,
    http: { host: "127.0.0.1", port: 0 },
    ops: { host: "127.0.0.1", port: 0 },
    nodes: documented.nodes.filter((node) => node.url === undefined),
    mailbox: { ...documented.mailbox, root: mapped(documented.mailbox.root) },
    state: { ...documented.state, dir: mapped(documented.state.dir) },
  };
  writeFileSync(mapped(configPath()), JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { LANG: "en_US.UTF-8" };
  for (const [name, value] of Object.entries(envOf(runtime))) env[name] = mapped(value);
  return { args: cmd().map(mapped), env, mapped };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** The URL of a server that answers every request with `status`; closed after the test. */
async function answering(status: number): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(status).end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
}

describe("the image's commands, outside a container", () => {
  it("ENTRYPOINT + CMD run the bridge on the container layout; HEALTHCHECK passes while it serves, fails after", async () => {
    const { args, env } = containerLayout(tempDir("clawbridge-docker-"));
    const bridge = launchCli(args, { env });
    const url = (await bridge.waitForStderr(RUNNING))[1]!;
    expect(await healthcheckExit(`${url}/healthz`)).toBe(0);
    bridge.child.kill("SIGTERM");
    expect((await bridge.exit).code).toBe(0);
    expect(await healthcheckExit(`${url}/healthz`)).toBe(1);
  });

  it("HEALTHCHECK fails on an answer that is not 2xx", async () => {
    expect(await healthcheckExit(await answering(503))).toBe(1);
    expect(await healthcheckExit(await answering(200))).toBe(0);
  });
});

// ---- both stages replayed (CI, or CLAWBRIDGE_DOCKER_INSTALL=1) --------------------------------

const isSet = (value: string | undefined) => value !== undefined && !["", "0", "false"].includes(value);
const replay =
  process.env.CLAWBRIDGE_DOCKER_INSTALL === undefined
    ? isSet(process.env.CI)
    : isSet(process.env.CLAWBRIDGE_DOCKER_INSTALL);
const STEP_TIMEOUT_MS = 150_000;

/** Runs one command to its end (bounded); fails with its output when it does not exit 0. */
async function run(command: string, args: string[], cwd: string): Promise<Finished> {
  const child = track(spawn(command, args, { cwd, env: process.env, stdio: ["ignore", "pipe", "pipe"] }));
  const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  const result = await finished(child).finally(() => clearTimeout(timer));
  const said = `${command} ${args.join(" ")} in ${cwd}:\n${result.stdout}\n${result.stderr}`;
  expect(result.code, said).toBe(0);
  return result;
}

/** The system commands the runtime stage runs besides npm; replayed nowhere (they touch /). */
const SYSTEM_COMMAND = /^(chmod|ln|mkdir|chown) /;

/**
 * Replays a stage in `dir` (its /app): COPY from the build context (which .dockerignore must
 * let through) or from an earlier stage's folder, and its `npm` RUN lines as written, plus
 * --prefer-offline for `npm ci` (npm's cache, not the network, when it has the packages).
 */
async function replayStage(stage: Stage, dir: string, earlier: Record<string, string>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") expect(instruction.args).toBe("/app");
    if (instruction.keyword === "COPY") {
      for (const copy of copies({ ...stage, instructions: [instruction] })) {
        for (const source of copy.sources) {
          const from = copy.from
            ? path.join(earlier[copy.from]!, source.replace(/^\/app\/?/, ""))
            : path.join(projectRoot, source);
          if (!copy.from) expect(isIgnored(dockerignore, source), source).toBe(false);
          const target = copy.dest.endsWith("/")
            ? path.join(dir, copy.dest, path.basename(source))
            : path.join(dir, copy.dest);
          cpSync(from, target, { recursive: true });
        }
      }
    }
    if (instruction.keyword === "RUN") {
      for (const { command } of runCommands({ ...stage, instructions: [instruction] })) {
        if (SYSTEM_COMMAND.test(command)) continue;
        const [tool, ...args] = command.split(/\s+/);
        expect(tool, `a RUN command this replay knows: ${command}`).toBe("npm");
        await run("npm", args[0] === "ci" ? [...args, "--prefer-offline"] : args, dir);
      }
    }
  }
}

describe.skipIf(!replay)("the image's stages, replayed in temp folders", () => {
  it(
    "build stage, then the runtime stage's production install; its dist starts and passes the health check",
    async () => {
      const dir = tempDir("clawbridge-image-");
      const buildDir = path.join(dir, "build");
      const runtimeDir = path.join(dir, "runtime");
      await replayStage(build, buildDir, {});
      expect(existsSync(path.join(buildDir, pkg.bin.clawbridge!))).toBe(true);
      await replayStage(runtime, runtimeDir, { build: buildDir });

      // Production dependencies only: nothing the lockfile marks dev-only was installed.
      const lock = JSON.parse(read("package-lock.json")) as {
        packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
      };
      const entries = Object.entries(lock.packages).filter(([key]) => key.startsWith("node_modules/"));
      for (const [key, entry] of entries) {
        if (entry.dev) expect(existsSync(path.join(runtimeDir, key)), `${key} is dev-only`).toBe(false);
        else if (!entry.optional && !entry.devOptional)
          expect(existsSync(path.join(runtimeDir, key)), key).toBe(true);
      }
      for (const name of Object.keys(pkg.devDependencies)) {
        if (lock.packages[`node_modules/${name}`]?.dev) {
          expect(existsSync(path.join(runtimeDir, "node_modules", name)), name).toBe(false);
        }
      }

      const [node, main] = entrypoint();
      expect(node).toBe("node");
      const version = await run(process.execPath, [main!, "--version"], runtimeDir);
      expect(version.stdout.trim()).toBe(pkg.version);

      const { args, env } = containerLayout(path.join(dir, "container"));
      const child = track(
        spawn(process.execPath, [main!, ...args], {
          cwd: runtimeDir,
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      const exit = finished(child);
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const url = (await waitFor(() => RUNNING.exec(stderr), { timeoutMs: 30_000, what: () => stderr }))[1]!;
      expect(await healthcheckExit(`${url}/healthz`)).toBe(0);
      child.kill("SIGTERM");
      expect((await exit).code).toBe(0);
    },
    4 * STEP_TIMEOUT_MS,
  );
});

describe("compose.replicas.yaml", () => {
  interface ReplicaCompose {
    services: Record<string, ComposeService & { image?: string; command?: string[]; hostname?: string }>;
    volumes?: Record<string, unknown>;
  }
  // yaml.load resolves the `<<: *replica` merge key, as Compose does.
  const file = () => yaml.load(read("compose.replicas.yaml")) as ReplicaCompose;
  const replicas = () => Object.entries(file().services).filter(([, s]) => s.build !== undefined);

  it("runs Redis with its append-only file, the password from .env and never in the file", () => {
    const redis = file().services.redis!;
    const command = (redis.command ?? []).join(" ");
    expect(command).toContain("--appendonly yes");
    expect(command).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect([redis.env_file ?? []].flat()).toContain(".env");
    expect(read("compose.replicas.yaml")).not.toMatch(/requirepass [^"$]/);
  });

  it("runs two replicas of this image, each with its own state volume and host name, secrets from .env", () => {
    const list = replicas();
    expect(list.length).toBeGreaterThanOrEqual(2);
    const states = list.map(
      ([, s]) => (s.volumes ?? []).map(parseVolume).find((m) => m.target === "/state")!.source,
    );
    expect(new Set(states).size).toBe(list.length);
    for (const state of states) expect(Object.keys(file().volumes ?? {})).toContain(state);
    expect(new Set(list.map(([, s]) => s.hostname)).size).toBe(list.length);
    for (const [, service] of list) {
      const built = service.build;
      expect(typeof built === "string" ? built : built?.context).toBe(".");
      expect([service.env_file ?? []].flat()).toContain(".env");
      const names = Object.keys(service.environment ?? {});
      for (const name of names) expect(name).not.toMatch(/SECRET|TOKEN|PASSWORD|KEY|REDIS_URL/i);
      expect(durationMs(service.stop_grace_period ?? "10s")).toBeGreaterThan(10_000);
    }
  });

  it("its config line parses as the Redis store", () => {
    const line = /state: (\{ dir: "\/state", store: "redis".*\})$/m.exec(read("compose.replicas.yaml"))?.[1];
    expect(line).toBeDefined();
    const { config } = parseConfigText(`{ mailbox: { root: "/mnt/openclaw-shared" }, state: ${line} }`, {
      env: { CLAWBRIDGE_REDIS_URL: "redis://:example@redis:6379/0" },
      baseDir: "/config",
      sourceName: "compose.replicas.yaml",
    });
    expect(config.state).toMatchObject({
      store: "redis",
      redis: { keyPrefix: "clawbridge:", leaseMs: 3000 },
    });
  });
});
