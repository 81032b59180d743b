import { ClawbridgeError, type ClawbridgeErrorOptions, type Locale, type LocalText } from "../core/index.js";
import type { ConfigIssue } from "./issues.js";

/** The error codes a config problem can carry. */
export type ConfigErrorCode =
  | "CB_CONFIG_NOT_FOUND"
  | "CB_CONFIG_UNREADABLE"
  | "CB_CONFIG_SYNTAX"
  | "CB_CONFIG_INVALID"
  | "CB_CONFIG_ENV_MISSING";

/** Options of {@link ConfigError}: the usual ones plus the issues and the file. */
export interface ConfigErrorOptions extends ClawbridgeErrorOptions<ConfigErrorCode> {
  /** Every problem found, not just the first (empty for a missing, unreadable or unparsable file). */
  issues?: ConfigIssue[];
  /** The config file (or the name given to `parseConfigText`). */
  path?: string;
}

/**
 * Why the config could not be loaded. `message` already lists every issue with its fix, one
 * per line, so printing it is enough; `issues` is there for `doctor --json` and tests.
 */
export class ConfigError extends ClawbridgeError<ConfigErrorCode> {
  readonly issues: ConfigIssue[];
  readonly path: string | undefined;

  constructor(code: ConfigErrorCode, message: string | LocalText, options: ConfigErrorOptions = {}) {
    const { issues = [], path, ...rest } = options;
    const keys = issues.map((issue) => issue.key);
    super(code, message, {
      // Config problems are written for the person who edits the file.
      expose: true,
      ...rest,
      details: { ...rest.details, ...(path ? { path } : {}), ...(keys.length > 0 ? { keys } : {}) },
    });
    this.name = "ConfigError";
    this.issues = issues;
    this.path = path;
  }

  /** A multi-line message reads better with its fix on a line of its own. */
  override describe(locale: Locale = "en"): string {
    const { message, fix } = this.render(locale);
    return fix ? `${message}\n${fix}` : message;
  }
}

/** Whether `error` is a {@link ConfigError} (optionally with a given code). */
export function isConfigError(error: unknown, code?: ConfigErrorCode): error is ConfigError {
  return error instanceof ConfigError && (code === undefined || error.code === code);
}
