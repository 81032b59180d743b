import type { CliContext } from "../context.js";
import { DOCTOR_EXIT, doctorJson, renderDoctor, runDoctor } from "../doctor/index.js";

/**
 * `clawbridge doctor [--json]`: 0 when every check passed (warnings included), 1 when one
 * failed, 2 when the config could not be found or loaded (then nothing else was checked).
 */
export async function doctorCommand(
  ctx: CliContext,
  options: { config?: string; json?: boolean },
): Promise<number> {
  const { checks, configLoaded } = await runDoctor(ctx, options);
  if (options.json) ctx.out(JSON.stringify(doctorJson(checks)));
  else for (const line of renderDoctor(ctx, checks)) ctx.out(line);
  if (!configLoaded) return DOCTOR_EXIT.noConfig;
  return checks.every((check) => check.ok) ? DOCTOR_EXIT.ok : DOCTOR_EXIT.failed;
}
