// `npm start`'s prestart: builds only when dist/ is missing or older than a source file.
// `npm ci` already built dist/ (the prepare script), so a fresh install starts at once
// instead of compiling everything again; an edited or pulled tree is still never run stale.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const built = path.join(root, "dist", "cli", "main.js");

/** The newest modification time under `dir` (recursive), 0 when it does not exist. */
function newest(dir) {
  let latest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const builtAt = mtime(built);
const sourcesAt = Math.max(
  newest(path.join(root, "src")),
  mtime(path.join(root, "tsconfig.json")),
  mtime(path.join(root, "tsconfig.build.json")),
);
if (builtAt === 0 || sourcesAt > builtAt) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    // A production install has no compiler: run what is there (or say it is missing below).
    if (builtAt === 0) {
      process.stderr.write(
        "clawbridge is not built (dist/ is missing) and TypeScript is not installed: run `npm ci`.\n",
      );
      process.exit(1);
    }
    process.exit(0);
  }
  process.stderr.write(
    builtAt === 0
      ? "building clawbridge (dist/ is missing)…\n"
      : "sources changed since the last build: rebuilding…\n",
  );
  const result = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], {
    cwd: root,
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}
