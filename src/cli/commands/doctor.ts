import type { CliContext } from "../context.js";
import { renderDoctor, runDoctor } from "../doctor/index.js";

/** `clawbridge doctor`: exit code 1 when any check fails. */
export async function doctorCommand(
  ctx: CliContext,
  options: { config?: string; json?: boolean },
): Promise<number> {
  const checks = await runDoctor(ctx, options);
  const ok = checks.every((check) => check.ok);
  if (options.json) ctx.out(JSON.stringify({ ok, checks }));
  else for (const line of renderDoctor(ctx, checks)) ctx.out(line);
  return ok ? 0 : 1;
}
