import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";
import { checkConfig } from "./config-checks.js";
import { checkNodes } from "./node-checks.js";
import { checkSharedFolder } from "./shared-folder-checks.js";

export type { DoctorCheck } from "./check.js";

/** Runs every check in order; later sections are skipped when the config cannot be loaded. */
export async function runDoctor(ctx: CliContext, options: { config?: string }): Promise<DoctorCheck[]> {
  const { checks, loaded } = checkConfig(ctx, options.config);
  if (!loaded) {
    checks.push({
      section: "shared",
      id: "shared.exists",
      label: ctx.t("doctorShared"),
      ok: true,
      skipped: true,
      detail: ctx.t("skippedNoShared"),
    });
    return checks;
  }
  const [shared, nodes, feishu] = await Promise.all([
    checkSharedFolder(ctx, loaded.config),
    checkNodes(ctx, loaded),
    // The Feishu SDK is large: loaded only when doctor runs, not for every CLI command.
    import("./feishu-checks.js").then(({ checkFeishu }) => checkFeishu(ctx, loaded)),
  ]);
  checks.push(...shared, ...nodes, ...feishu);
  return checks;
}

/** `✓ label: detail` / `✗ label: detail` and the fix on the next line. */
export function renderDoctor(ctx: CliContext, checks: readonly DoctorCheck[]): string[] {
  const lines: string[] = [];
  for (const check of checks) {
    const mark = check.skipped ? "–" : check.ok ? "✓" : "✗";
    lines.push(`${mark} ${check.label}: ${check.detail}`);
    // A passing check may carry advice too (webhook on loopback needs a proxy in front).
    if (check.fix && !check.skipped) lines.push(`    ${ctx.t("fixPrefix")}: ${check.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  lines.push(failed === 0 ? ctx.t("doctorSummaryOk") : ctx.t("doctorSummaryFail", { count: failed }));
  return lines;
}
