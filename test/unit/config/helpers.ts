import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  formatIssue,
  isConfigError,
  parseConfigText,
  type ConfigError,
  type ParseConfigOptions,
} from "../../../src/config/index.js";

/** A fresh real folder under the OS temp dir; `name` may contain spaces and Chinese. */
export function tempDir(name = "clawbridge-config-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), name));
}

/** The ConfigError thrown by `fn`, or a failed expectation when nothing (or something else) is thrown. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (isConfigError(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

/** Parses `text` expecting it to fail; returns the error and its issues as printed lines. */
export function failingParse(
  text: string,
  options: ParseConfigOptions = {},
): { error: ConfigError; lines: string[] } {
  const error = configErrorOf(() => parseConfigText(text, { env: {}, baseDir: tempDir(), ...options }));
  return { error, lines: error.issues.map(formatIssue) };
}

/** The smallest valid config, plus whatever `extra` adds at the top level (JSON5 text). */
export function minimal(extra = ""): string {
  return `{ mailbox: { root: "shared" }, ${extra} }`;
}
