import { findConfigFile, loadConfig } from "../../config/index.js";
import { ClawbridgeError, isClawbridgeError } from "../../core/index.js";
import type { CliContext } from "../context.js";

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * `clawbridge start --config F [--replay]`: runs the bridge until SIGTERM or SIGINT, then
 * stops within a bound (a second signal exits at once). When the bridge stops by itself
 * (another bridge took the shared-folder lease over) it says why and exits 1.
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
  let fatal: (reason: unknown) => void = () => {};
  const stoppedByItself = new Promise<unknown>((resolve) => (fatal = resolve));
  const bridge = await startBridge(loaded, {
    replay: options.replay,
    onFatal: (reason) => fatal(reason),
  });
  ctx.err(ctx.t("startStarted", { url: bridge.url, config: loaded.path, ops: bridge.opsUrl }));
  const reload = () => {
    try {
      bridge.reload(loadConfig({ path: loaded.path, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd }));
    } catch (error) {
      // A broken edit must not take a running bridge down: keep the old settings, say why.
      bridge.logger.error(
        { err: error },
        "SIGHUP: the config could not be reloaded; keeping the current one",
      );
    }
  };
  process.on("SIGHUP", reload);
  const outcome = await Promise.race([
    signalled.then((signal) => ({ signal })),
    stoppedByItself.then((reason) => ({ reason })),
  ]);
  if ("reason" in outcome) {
    // Everything is stopped already; main prints the error and its fix and exits 1.
    const { error } = (outcome.reason ?? {}) as { error?: unknown };
    throw isClawbridgeError(error) ? error : outcome.reason;
  }
  process.off("SIGHUP", reload);
  ctx.err(ctx.t("startStopping", { signal: outcome.signal }));
  const forced = () => process.exit(1);
  process.once("SIGTERM", forced);
  process.once("SIGINT", forced);
  if (!(await bridge.stop(STOP_TIMEOUT_MS))) {
    // A delivery still running (a long agent run) must not hold the process past the bound:
    // it is still in its outbox, and the next start delivers it again with the same
    // idempotency key; the locks left behind are taken over at once by a start on this host.
    bridge.logger.warn(
      { timeoutMs: STOP_TIMEOUT_MS },
      "not everything stopped within the bound; exiting with work in flight (it stays in the outbox)",
    );
    process.exit(0);
  }
  return 0;
}
