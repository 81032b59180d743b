import { promises as fs } from "node:fs";
import path from "node:path";
import type { LoadedConfig } from "../../config/index.js";
import {
  errnoCode,
  isJournalKind,
  JOURNAL_FORMATS,
  readJournalHeader,
  stateNewerError,
  type ClawbridgeError,
} from "../../core/index.js";
import { DEVICE_IDENTITY_VERSION } from "../../gateway/index.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";
import { shellWord } from "./running-bridge.js";

/** Bits that let other users of this computer in. */
const GROUP_OTHER = 0o077;

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, "0")}`;

/** Journals sit at most this deep under the state folder (`mailbox/delivered/<inbox>.log`). */
const JOURNAL_DEPTH = 3;

/** The state folder: its files' formats, then its permissions. */
export async function checkStateDir(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
  return [await checkFormats(ctx, loaded.config.state.dir), ...(await checkModes(ctx, loaded))];
}

/**
 * Whether every versioned state file (the journals' header lines, the device key) is in a
 * format this release reads: one a newer release wrote makes the bridge refuse to start.
 */
async function checkFormats(ctx: CliContext, dir: string): Promise<DoctorCheck> {
  const base = {
    section: "state",
    id: "state.formats",
    label: `${ctx.t("doctorState")}: ${ctx.t("checkStateFormats")}`,
  };
  const newer: ClawbridgeError<"CB_STATE_NEWER">[] = [];
  for (const file of await journalCandidates(dir, JOURNAL_DEPTH)) {
    const header = await readJournalHeader(file).catch(() => undefined);
    if (header && isJournalKind(header.kind) && header.version > JOURNAL_FORMATS[header.kind]) {
      newer.push(stateNewerError(file, header.version, JOURNAL_FORMATS[header.kind], { kind: header.kind }));
    }
  }
  const deviceFile = path.join(dir, "identity", "device.json");
  const device = (await fs.readFile(deviceFile, "utf8").then(JSON.parse, () => undefined)) as
    { version?: unknown } | undefined;
  if (typeof device?.version === "number" && device.version > DEVICE_IDENTITY_VERSION) {
    newer.push(stateNewerError(deviceFile, device.version, DEVICE_IDENTITY_VERSION));
  }
  const [first] = newer;
  if (!first) return { ...base, ok: true, detail: ctx.t("stateFormatsOk") };
  const { message, fix } = first.render(ctx.locale);
  return {
    ...base,
    ok: false,
    detail: newer.length > 1 ? ctx.t("stateFormatsMore", { message, count: newer.length - 1 }) : message,
    ...(fix ? { fix } : {}),
  };
}

/** Files that may be journals (`.jsonl`, `.log`) under `dir`, down to `depth` folders. */
async function journalCandidates(dir: string, depth: number): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory() && depth > 1) found.push(...(await journalCandidates(file, depth - 1)));
    else if (entry.isFile() && /\.(jsonl|log)$/.test(entry.name)) found.push(file);
  }
  return found.sort();
}

/**
 * The state folder's permissions. It holds message text (outboxes) and, in `identity/`,
 * the device's private key and the gateways' device tokens: a readable key lets anyone on
 * this computer act as the paired bridge, so those files must be 0600 (a failure); a state
 * folder others can list is a warning (its secrets are protected by their own modes).
 */
async function checkModes(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
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
