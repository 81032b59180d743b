import { EXAMPLE_CONFIG, findConfigFile, loadConfig } from "../../config/index.js";
import { packageVersion, type CliContext } from "../context.js";

/**
 * `clawbridge` with no command (what `npm start` runs). Without a config: what to do next.
 * With one: validate it and say what this version can do with it.
 */
export async function defaultCommand(ctx: CliContext, options: { config?: string }): Promise<number> {
  const version = packageVersion();
  const file = options.config ?? findConfigFile({ cwd: ctx.cwd, env: ctx.env });
  if (!file) {
    ctx.out(ctx.t("noConfigTitle", { version }));
    ctx.out(ctx.t("noConfigBody", { example: EXAMPLE_CONFIG }));
    return 0;
  }
  const loaded = loadConfig({ path: file, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd });
  ctx.out(ctx.t("configOkTitle", { version, path: loaded.path }));
  ctx.out(ctx.t("configOkBody", { path: loaded.path }));
  return 0;
}
