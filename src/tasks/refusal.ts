import type { Translate } from "../core/index.js";
import type { AccessPolicy } from "./access.js";
import type { TasksMessageKey } from "./messages.js";

/** Why someone may not do something, and who can change that (commands and buttons alike). */
export function refusal(
  t: Translate<TasksMessageKey>,
  access: AccessPolicy,
  openId: string,
  action: TasksMessageKey,
): string {
  if (access.nobodyMay) return t("nobodyAllowed", { action: t(action) });
  const admins = access.admins.length > 0 ? access.admins.join(", ") : t("noAdmins");
  return t("notAllowed", { action: t(action), admins, openId });
}
