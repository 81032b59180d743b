import path from "node:path";
import { EXAMPLE_CONFIG } from "../../config/index.js";
import { ClawbridgeError, isClawbridgeError } from "../../core/index.js";
import { packageVersion, type CliContext } from "../context.js";

export interface DemoCommandOptions {
  port?: string;
  shared?: string;
  state?: string;
  open?: boolean;
}

/**
 * `clawbridge demo [--port 8787] [--shared DIR] [--state DIR] [--open]`, and `clawbridge`
 * without a config (`why: "noConfig"`): starts the sandbox, prints what SCENARIOS.md §6
 * shows (the page, the folder, the nodes, a first command), and runs until SIGINT/SIGTERM,
 * which stop everything it started; exit 0.
 */
export async function demoCommand(
  ctx: CliContext,
  options: DemoCommandOptions,
  why: "demo" | "noConfig" = "demo",
): Promise<number> {
  const { t } = ctx;
  const port = parsePort(ctx, options.port);
  // Only here: the sandbox and its stand-ins are never loaded by the other commands.
  const { startDemo, DEFAULT_DEMO_PORT, DEFAULT_DEMO_STATE_DIR } = await import("../../demo/index.js");
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const demo = await startDemo({
    ...(port !== undefined ? { port } : {}),
    stateDir: path.resolve(ctx.cwd, options.state ?? DEFAULT_DEMO_STATE_DIR),
    ...(options.shared ? { sharedDir: path.resolve(ctx.cwd, options.shared) } : {}),
    locale: ctx.locale,
    open: options.open ?? false,
  }).catch((error: unknown) => {
    // The bridge's own fix names http.port, which the sandbox has no file for: say --port.
    if (isClawbridgeError(error) && error.code === "CB_HTTP_LISTEN" && errnoOf(error) === "EADDRINUSE") {
      throw new ClawbridgeError("CB_HTTP_LISTEN", error.text, {
        fix: ctx.t("demoPortInUseFix", { port: port ?? DEFAULT_DEMO_PORT }),
        cause: error,
      });
    }
    throw error;
  });
  const shown = (dir: string) => {
    const relative = path.relative(ctx.cwd, dir);
    return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : dir;
  };
  const shared = shown(demo.world.sharedDir);
  const nodes = demo.world.nodes
    .map((node) =>
      node.kind === "gateway"
        ? t("demoNodeGateway", {
            name: node.name,
            tags: node.tags.map((tag) => ` #${tag}`).join(""),
          })
        : t("demoNodeMailbox", { name: node.name, tags: node.tags.map((tag) => ` #${tag}`).join("") }),
    )
    .join(t("demoListSeparator"));
  const relayBot = demo.world.nodes.find((node) => node.name === "office-mac")?.bot?.name ?? "office-mac";
  ctx.out(
    why === "noConfig"
      ? t("noConfigDemoTitle", { version: packageVersion() })
      : t("demoTitle", { version: packageVersion() }),
  );
  ctx.out(
    t("demoBody", {
      url: demo.url,
      metrics: `${demo.bridge.opsUrl}/metrics`,
      health: `${demo.bridge.opsUrl}/readyz`,
      shared: quoted(shared),
      nodes,
      bridge: demo.world.bridgeBot.name,
      relayBot,
      config: shown(demo.configPath),
      example: EXAMPLE_CONFIG,
    }),
  );
  const signal = await signalled;
  ctx.err(t("demoStopping", { signal }));
  const forced = () => process.exit(1);
  process.once("SIGTERM", forced);
  process.once("SIGINT", forced);
  await demo.stop();
  process.off("SIGTERM", forced);
  process.off("SIGINT", forced);
  return 0;
}

function errnoOf(error: ClawbridgeError): unknown {
  return (error.details as { errno?: unknown } | undefined)?.errno;
}

function parsePort(ctx: CliContext, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new ClawbridgeError("CB_USAGE", ctx.t("demoBadPort", { value }), { fix: ctx.t("demoBadPortFix") });
  }
  return port;
}

/** A path as a shell takes it: quoted when it holds spaces or other special characters. */
function quoted(text: string): string {
  return /^[\w./@:+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
