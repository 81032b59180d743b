import type { CliContext } from "../context.js";
import { levelOf, LEVEL_MARKS, type DoctorCheck, type DoctorLevel } from "./check.js";
import { checkConfig } from "./config-checks.js";
import { checkListeners } from "./listener-checks.js";
import { checkNodes } from "./node-checks.js";
import { checkReplicas } from "./replica-checks.js";
import { checkSharedFolder } from "./shared-folder-checks.js";
import { checkStateDir } from "./state-checks.js";

export { DOCTOR_EXIT, levelOf, type DoctorCheck, type DoctorLevel } from "./check.js";
export { runningBridge, shellWord } from "./running-bridge.js";

export interface DoctorReport {
  checks: DoctorCheck[];
  /** False when the config could not be found or loaded: nothing else was checked. */
  configLoaded: boolean;
}

/** Runs every check in order; later sections are skipped when the config cannot be loaded. */
export async function runDoctor(ctx: CliContext, options: { config?: string }): Promise<DoctorReport> {
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
    return { checks, configLoaded: false };
  }
  const [listeners, shared, nodes, feishu, replicas] = await Promise.all([
    checkListeners(ctx, loaded),
    checkSharedFolder(ctx, loaded.config),
    checkNodes(ctx, loaded),
    // The Feishu SDK is large: loaded only when doctor runs, not for every CLI command.
    import("./feishu-checks.js").then(({ checkFeishu }) => checkFeishu(ctx, loaded)),
    checkReplicas(ctx, loaded),
  ]);
  // After the nodes: their check creates the device key on first use, and its mode is what
  // the bridge will find.
  const state = await checkStateDir(ctx, loaded);
  checks.push(...listeners, ...shared, ...nodes, ...feishu, ...replicas, ...state);
  return { checks, configLoaded: true };
}

/** `✓ label: detail` (⚠ for a warning, ✗ for a failure) and the fix on the next line. */
export function renderDoctor(ctx: CliContext, checks: readonly DoctorCheck[]): string[] {
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${LEVEL_MARKS[levelOf(check)]} ${check.label}: ${check.detail}`);
    // A passing check may carry advice too (webhook on loopback needs a proxy in front).
    if (check.fix && !check.skipped) lines.push(`    ${ctx.t("fixPrefix")}: ${check.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  const warnings = checks.filter((c) => levelOf(c) === "warn").length;
  lines.push(
    failed > 0
      ? ctx.t("doctorSummaryFail", { count: failed })
      : warnings > 0
        ? ctx.t("doctorSummaryWarn", { count: warnings })
        : ctx.t("doctorSummaryOk"),
  );
  return lines;
}

/** One check as `--json` prints it: the stable fields first, the localised parts after. */
export interface DoctorJsonCheck {
  id: string;
  ok: boolean;
  level: DoctorLevel;
  /** The human line without its mark: `label: detail`. */
  message: string;
  fix?: string;
  section: string;
  label: string;
  detail: string;
}

/** `clawbridge doctor --json`: one object, `{ok, checks: [{id, ok, level, message, fix}]}`. */
export function doctorJson(checks: readonly DoctorCheck[]): { ok: boolean; checks: DoctorJsonCheck[] } {
  return {
    ok: checks.every((check) => check.ok),
    checks: checks.map((check) => ({
      id: check.id,
      ok: check.ok,
      level: levelOf(check),
      message: `${check.label}: ${check.detail}`,
      ...(check.fix ? { fix: check.fix } : {}),
      section: check.section,
      label: check.label,
      detail: check.detail,
    })),
  };
}
