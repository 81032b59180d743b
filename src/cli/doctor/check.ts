/** One line of `clawbridge doctor`: ✓ or ✗, what was found, and for a ✗ how to fix it. */
export interface DoctorCheck {
  /** Section: `config`, `shared`, later `nodes` and `feishu`. */
  section: string;
  /** Stable id for scripts (`--json`), e.g. `shared.unicode-names`. */
  id: string;
  /** Localised label. */
  label: string;
  ok: boolean;
  /** True for checks that did not run because an earlier one failed. */
  skipped?: boolean;
  detail: string;
  fix?: string;
}
