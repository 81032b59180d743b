/** One line of `clawbridge doctor`: ✓, ⚠ or ✗, what was found, and how to fix it. */
export interface DoctorCheck {
  /** Section: `config`, `listeners`, `shared`, `nodes`, `feishu`, `redis`, `state`. */
  section: string;
  /** Stable id for scripts (`--json`), e.g. `shared.unicode-names`. */
  id: string;
  /** Localised label. */
  label: string;
  ok: boolean;
  /**
   * Passed, but something a person should look at (a listener beyond loopback, quarantined
   * lines, a state folder others can read): shown with ⚠, never changes the exit code.
   */
  warning?: boolean;
  /** True for checks that did not run because an earlier one failed. */
  skipped?: boolean;
  detail: string;
  fix?: string;
}

/** How a check is shown: ✓ ok, ⚠ warn, ✗ fail, – skip (`level` in `--json`). */
export type DoctorLevel = "ok" | "warn" | "fail" | "skip";

export function levelOf(check: DoctorCheck): DoctorLevel {
  if (check.skipped) return "skip";
  if (!check.ok) return "fail";
  return check.warning ? "warn" : "ok";
}

export const LEVEL_MARKS: Record<DoctorLevel, string> = { ok: "✓", warn: "⚠", fail: "✗", skip: "–" };

/**
 * `clawbridge doctor`'s exit codes (documented in its `--help`): scripts and health checks
 * tell "fix a check" from "doctor could not even read the config".
 */
export const DOCTOR_EXIT = { ok: 0, failed: 1, noConfig: 2 } as const;
