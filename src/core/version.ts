import { createRequire } from "node:module";

let cachedVersion: string | undefined;

/** This package's version (package.json sits two levels above src/core and dist/core). */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const require = createRequire(import.meta.url);
      cachedVersion = (require("../../package.json") as { version: string }).version;
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}
