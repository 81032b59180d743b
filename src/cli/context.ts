import path from "node:path";
import {
  ClawbridgeError,
  createLogger,
  SecretRegistry,
  type Locale,
  type Logger,
  type Translate,
} from "../core/index.js";
import { configSchema, loadConfig, type Config, type LoadedConfig } from "../config/index.js";
import { cliMessages, type CliMessageKey } from "./messages.js";

/** What every command gets: the language, the translator, streams, and the environment. */
export interface CliContext {
  locale: Locale;
  t: Translate<CliMessageKey>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

export function createContext(locale: Locale): CliContext {
  return {
    locale,
    t: cliMessages.t(locale),
    env: process.env,
    cwd: process.cwd(),
    out: (line) => {
      process.stdout.write(`${line}\n`);
    },
    err: (line) => {
      process.stderr.write(`${line}\n`);
    },
  };
}

export { packageVersion } from "../core/index.js";

/** The mailbox settings a command runs with: from the config, with `--shared` winning. */
export interface MailboxSettings {
  root: string;
  self: string;
  stateDir: string;
  watch: Config["mailbox"]["watch"];
  pollMs: number;
  maxLineBytes: number;
  lockStaleMs: number;
  /** Node names the config knows (empty without a config). */
  nodes: string[];
  configPath?: string;
  loaded?: LoadedConfig;
}

export function mailboxSettings(
  ctx: CliContext,
  options: { config?: string; shared?: string },
): MailboxSettings {
  const loaded = options.config
    ? loadConfig({ path: options.config, env: ctx.env, locale: ctx.locale, cwd: ctx.cwd })
    : undefined;
  const root = options.shared ? path.resolve(ctx.cwd, options.shared) : loaded?.config.mailbox.root;
  if (!root) throw new ClawbridgeError("CB_USAGE", ctx.t("needShared"), { fix: ctx.t("needSharedFix") });
  // Without a config file the schema's defaults apply, as they would in one that names only the root.
  const config = loaded?.config ?? configSchema.parse({ mailbox: { root } });
  return {
    ...config.mailbox,
    root,
    stateDir: path.resolve(ctx.cwd, config.state.dir),
    nodes: config.nodes.map((n) => n.name),
    configPath: loaded?.path,
    loaded,
  };
}

/** A logger for CLI commands: warnings and errors only, to stderr, secrets from the config redacted. */
export function cliLogger(loaded?: LoadedConfig): Logger {
  const secrets = new SecretRegistry();
  for (const secret of loaded?.secrets ?? []) secrets.add(secret);
  return createLogger({
    level:
      loaded?.config.log.level === "debug" || loaded?.config.log.level === "trace"
        ? loaded.config.log.level
        : "warn",
    secrets,
  });
}
