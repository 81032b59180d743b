import { isClawbridgeError } from "../../core/index.js";
import {
  EXAMPLE_CONFIG,
  findConfigFile,
  isConfigError,
  loadConfig,
  type LoadedConfig,
} from "../../config/index.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";

/** Loads the config and turns every problem into its own check line, each with its dotted key and fix. */
export function checkConfig(
  ctx: CliContext,
  configPath?: string,
): { checks: DoctorCheck[]; loaded?: LoadedConfig } {
  const label = ctx.t("doctorConfig");
  const file = configPath ?? findConfigFile({ cwd: ctx.cwd, env: ctx.env });
  if (!file) {
    return {
      checks: [
        {
          section: "config",
          id: "config.found",
          label,
          ok: false,
          detail: ctx.t("doctorConfigMissing"),
          fix: ctx.t("doctorConfigMissingFix", { example: EXAMPLE_CONFIG }),
        },
      ],
    };
  }
  try {
    const loaded = loadConfig({ path: file, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd });
    return {
      checks: [
        {
          section: "config",
          id: "config.valid",
          label,
          ok: true,
          detail: ctx.t("doctorConfigFound", { path: loaded.path }),
        },
      ],
      loaded,
    };
  } catch (error) {
    if (isConfigError(error) && error.issues.length > 0) {
      return {
        checks: error.issues.map((issue) => ({
          section: "config",
          id: `config.${issue.key}`,
          label,
          ok: false,
          detail: `${issue.key}: ${issue.message}`,
          fix: issue.fix,
        })),
      };
    }
    if (isClawbridgeError(error)) {
      return {
        checks: [
          {
            section: "config",
            id: `config.${error.code}`,
            label,
            ok: false,
            detail: error.message,
            fix: error.fix,
          },
        ],
      };
    }
    throw error;
  }
}
