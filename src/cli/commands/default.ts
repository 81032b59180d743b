import { EXAMPLE_CONFIG, findConfigFile } from "../../config/index.js";
import { packageVersion, type CliContext } from "../context.js";
import { startCommand } from "./start.js";

/**
 * `clawbridge` with no command (what `npm start` runs): with a config file, the bridge;
 * without one, what to do next.
 */
export async function defaultCommand(ctx: CliContext, options: { config?: string }): Promise<number> {
  const file = options.config ?? findConfigFile({ cwd: ctx.cwd, env: ctx.env });
  if (file) return startCommand(ctx, { config: file });
  ctx.out(ctx.t("noConfigTitle", { version: packageVersion() }));
  ctx.out(ctx.t("noConfigBody", { example: EXAMPLE_CONFIG }));
  return 0;
}
