import path from "node:path";
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
  checks.push({
    section: "shared",
    id: "shared.quarantine",
    label: `${section}: ${ctx.t("checkQuarantine")}`,
    ok: true,
    detail:
      count === 0
        ? ctx.t("quarantineNone")
        : ctx.t("quarantineCount", { count, file: path.join(config.state.dir, "quarantine.jsonl") }),
  });
  return checks;
}
