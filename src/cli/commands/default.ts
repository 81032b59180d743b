import { findConfigFile } from "../../config/index.js";
import type { CliContext } from "../context.js";
import { demoCommand } from "./demo.js";
import { startCommand } from "./start.js";

/**
 * `clawbridge` with no command (what `npm start` runs): with a config file, the bridge;
 * without one, the demo sandbox (SCENARIOS.md §6), which says so and how to set up the real one.
 */
export async function defaultCommand(ctx: CliContext, options: { config?: string }): Promise<number> {
  const file = options.config ?? findConfigFile({ cwd: ctx.cwd, env: ctx.env });
  if (file) return startCommand(ctx, { config: file });
  return demoCommand(ctx, {}, "noConfig");
}
