import type { Config } from "../../config/index.js";
import { FileQuarantine, probeSharedFolder, type SharedFolderCheckId } from "../../mailbox/index.js";
import type { CliMessageKey } from "../messages.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";

const LABELS: Record<SharedFolderCheckId, CliMessageKey> = {
  exists: "checkExists",
  writable: "checkWritable",
  lock: "checkLock",
  "unicode-names": "checkUnicode",
  watch: "checkWatch",
};

const FIXES: Partial<Record<SharedFolderCheckId, CliMessageKey>> = {
  exists: "fixExists",
  writable: "fixWritable",
  lock: "fixLock",
  "unicode-names": "fixUnicode",
};

/** The shared folder as the bridge will use it, plus how many lines sit in quarantine. */
export async function checkSharedFolder(ctx: CliContext, config: Config): Promise<DoctorCheck[]> {
  const section = ctx.t("doctorShared");
  const probed = await probeSharedFolder(config.mailbox.root, {
    lockStaleMs: config.mailbox.lockStaleMs,
    watch: config.mailbox.watch,
  });
  const checks: DoctorCheck[] = probed.map((check) => ({
    section: "shared",
    id: `shared.${check.id}`,
    label: `${section}: ${ctx.t(LABELS[check.id])}`,
    ok: check.ok,
    detail: check.detail,
    fix: check.ok ? undefined : ctx.t(FIXES[check.id]!),
  }));
  const count = await FileQuarantine.count(config.state.dir);
  // Its file name, from the class that owns it (constructing one touches no file).
  const { file } = new FileQuarantine(config.state.dir);
  // Quarantined lines were never delivered: a person has to look, but the bridge runs on.
  checks.push({
    section: "shared",
    id: "shared.quarantine",
    label: `${section}: ${ctx.t("checkQuarantine")}`,
    ok: true,
    ...(count === 0
      ? { detail: ctx.t("quarantineNone") }
      : {
          warning: true,
          detail: ctx.t("quarantineCount", { count, file }),
          fix: ctx.t("fixQuarantine", { file }),
        }),
  });
  return checks;
}
