import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { errnoCode } from "../core/index.js";
import { withFileLock } from "./file-lock.js";
import { mailboxLayout } from "./layout.js";
import { decideWatchMode, type WatchSetting } from "./watch-mode.js";

export type SharedFolderCheckId = "exists" | "writable" | "lock" | "unicode-names" | "watch";

export interface SharedFolderCheck {
  id: SharedFolderCheckId;
  ok: boolean;
  /** What was found, in English words with the facts (paths, errno); the CLI localises around it. */
  detail: string;
}

/**
 * What `doctor` asks of the shared folder: it exists, we can write, the lock works, and a
 * file with a Chinese name comes back with the same name (a CIFS mount without
 * `iocharset=utf8` mangles it). Leaves nothing behind.
 */
export async function probeSharedFolder(
  root: string,
  options: { lockStaleMs: number; watch: WatchSetting },
): Promise<SharedFolderCheck[]> {
  const layout = mailboxLayout(root);
  const checks: SharedFolderCheck[] = [];
  const found = await fs.stat(layout.root).then(
    (stat) => (stat.isDirectory() ? undefined : "ENOTDIR"),
    (error: unknown) => errnoCode(error) ?? String(error),
  );
  if (found !== undefined) {
    checks.push({ id: "exists", ok: false, detail: `${layout.root}: ${found}` });
    return checks;
  }
  checks.push({ id: "exists", ok: true, detail: layout.root });
  const tag = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const probeFile = path.join(layout.root, `.clawbridge-doctor-${tag}.tmp`);
  try {
    await fs.writeFile(probeFile, "clawbridge doctor\n");
    await fs.rm(probeFile);
    checks.push({ id: "writable", ok: true, detail: layout.root });
  } catch (error) {
    checks.push({
      id: "writable",
      ok: false,
      detail: `${layout.root}: ${errnoCode(error) ?? String(error)}`,
    });
    return checks;
  }
  try {
    let held = false;
    await withFileLock(probeFile, { staleMs: options.lockStaleMs, timeoutMs: 5_000 }, async () => {
      held = (await fs.stat(`${probeFile}.lock`)).isFile();
    });
    const released = await fs.stat(`${probeFile}.lock`).then(
      () => false,
      () => true,
    );
    checks.push({
      id: "lock",
      ok: held && released,
      detail: held && released ? "O_EXCL lock file created and removed" : "lock file did not behave",
    });
  } catch (error) {
    checks.push({ id: "lock", ok: false, detail: String((error as Error).message ?? error) });
  }
  const unicodeName = `.clawbridge-doctor-共享测试-${tag}.tmp`;
  try {
    await fs.writeFile(path.join(layout.root, unicodeName), "");
    const names = await fs.readdir(layout.root);
    const found = names.some((name) => name.normalize("NFC") === unicodeName);
    await fs.rm(path.join(layout.root, unicodeName), { force: true });
    checks.push({
      id: "unicode-names",
      ok: found,
      detail: found ? unicodeName : `${unicodeName} came back under another name`,
    });
  } catch (error) {
    checks.push({
      id: "unicode-names",
      ok: false,
      detail: `${unicodeName}: ${errnoCode(error) ?? String(error)}`,
    });
  }
  const decision = await decideWatchMode(layout.root, options.watch);
  checks.push({ id: "watch", ok: true, detail: decision.reason });
  return checks;
}
