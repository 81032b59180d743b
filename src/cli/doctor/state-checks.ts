import { promises as fs } from "node:fs";
import path from "node:path";
import type { LoadedConfig } from "../../config/index.js";
import { errnoCode } from "../../core/index.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";
import { shellWord } from "./running-bridge.js";

/** Bits that let other users of this computer in. */
const GROUP_OTHER = 0o077;

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, "0")}`;

/**
 * The state folder's permissions. It holds message text (outboxes) and, in `identity/`,
 * the device's private key and the gateways' device tokens: a readable key lets anyone on
 * this computer act as the paired bridge, so those files must be 0600 (a failure); a state
 * folder others can list is a warning (its secrets are protected by their own modes).
 */
export async function checkStateDir(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
  const dir = loaded.config.state.dir;
  const label = (what: string) => `${ctx.t("doctorState")}: ${what}`;
  if (process.platform === "win32") {
    // NTFS has ACLs, not these mode bits: Node reports made-up modes there.
    return [
      {
        section: "state",
        id: "state.modes",
        label: label(ctx.t("checkStateModes")),
        ok: true,
        detail: ctx.t("stateModesWindows"),
      },
    ];
  }
  const checks: DoctorCheck[] = [];
  const dirMode = await modeOf(dir);
  const dirCheck = { section: "state", id: "state.dir", label: label(ctx.t("checkStateDir")) };
  if (typeof dirMode === "string") return [unreadable(ctx, dirCheck, dir, dirMode)];
  if (dirMode === undefined) {
    checks.push({ ...dirCheck, ok: true, detail: ctx.t("stateDirMissing", { dir }) });
    return checks;
  }
  checks.push(
    dirMode & GROUP_OTHER
      ? {
          ...dirCheck,
          ok: true,
          warning: true,
          detail: ctx.t("stateDirWide", { dir, mode: octal(dirMode) }),
          fix: ctx.t("fixChmod", { command: `chmod 700 ${shellWord(dir)}` }),
        }
      : { ...dirCheck, ok: true, detail: ctx.t("stateModeOk", { path: dir, mode: octal(dirMode) }) },
  );
  for (const [id, name, what] of [
    ["state.device-key", "device.json", "checkDeviceKey"],
    ["state.device-tokens", "device-tokens.json", "checkDeviceTokens"],
  ] as const) {
    const file = path.join(dir, "identity", name);
    const mode = await modeOf(file);
    const base = { section: "state", id, label: label(ctx.t(what)) };
    if (typeof mode === "string") {
      checks.push(unreadable(ctx, base, file, mode));
    } else if (mode === undefined) {
      checks.push({
        ...base,
        ok: true,
        detail: ctx.t(id === "state.device-key" ? "deviceKeyMissing" : "deviceTokensMissing", { file }),
      });
    } else if (mode & GROUP_OTHER) {
      checks.push({
        ...base,
        ok: false,
        detail: ctx.t(id === "state.device-key" ? "deviceKeyWide" : "deviceTokensWide", {
          file,
          mode: octal(mode),
        }),
        fix: ctx.t("fixChmod", { command: `chmod 600 ${shellWord(file)}` }),
      });
    } else {
      checks.push({ ...base, ok: true, detail: ctx.t("stateModeOk", { path: file, mode: octal(mode) }) });
    }
  }
  return checks;
}

/** The permission bits; undefined when the path does not exist, the errno when it cannot be read. */
async function modeOf(file: string): Promise<number | string | undefined> {
  try {
    return (await fs.stat(file)).mode & 0o777;
  } catch (error) {
    const errno = errnoCode(error);
    return errno === "ENOENT" ? undefined : (errno ?? String(error));
  }
}

function unreadable(
  ctx: CliContext,
  base: Pick<DoctorCheck, "section" | "id" | "label">,
  file: string,
  errno: string,
): DoctorCheck {
  return {
    ...base,
    ok: false,
    detail: ctx.t("stateUnreadable", { file, reason: errno }),
    fix: ctx.t("fixStateUnreadable"),
  };
}
