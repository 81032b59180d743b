import { findConfigFile, loadConfig } from "../../config/index.js";
import { ClawbridgeError } from "../../core/index.js";
import type { CliContext } from "../context.js";

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * `clawbridge start --config F [--replay]`: runs the bridge until SIGTERM or SIGINT, then
 * stops within a bound (a second signal exits at once).
 */
export async function startCommand(
  ctx: CliContext,
  options: { config?: string; replay?: boolean },
): Promise<number> {
  const file = options.config ?? findConfigFile({ cwd: ctx.cwd, env: ctx.env });
  if (!file)
    throw new ClawbridgeError("CB_CONFIG_NOT_FOUND", ctx.t("startNoConfig"), {
      fix: ctx.t("startNoConfigFix"),
    });
  const loaded = loadConfig({ path: file, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd });
  // Loaded only here: the Feishu SDK and the gateway stack are not needed by other commands.
  const { startBridge } = await import("../../app.js");
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const bridge = await startBridge(loaded, { replay: options.replay });
  ctx.err(ctx.t("startStarted", { url: bridge.url, config: loaded.path }));
  const signal = await signalled;
  ctx.err(ctx.t("startStopping", { signal }));
  const forced = () => process.exit(1);
  process.once("SIGTERM", forced);
  process.once("SIGINT", forced);
  await bridge.stop(STOP_TIMEOUT_MS);
  return 0;
}
