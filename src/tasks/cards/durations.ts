import type { Locale } from "../../core/index.js";
import { taskCardsMessages as m } from "./messages.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A length of time as people say it, at most two units: "3分12秒" / "3 min 12 s",
 * "1小时5分" / "1 h 5 min". A zero second unit is left out ("3分钟" / "3 min").
 */
export function formatDuration(ms: number, locale: Locale): string {
  const t = m.t(locale);
  const total = Math.max(0, Math.floor(ms / SECOND));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const min = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return h > 0 ? t("durDayHour", { d, h }) : t("durDays", { d });
  if (h > 0) return min > 0 ? t("durHourMin", { h, m: min }) : t("durHours", { h });
  if (min > 0) return s > 0 ? t("durMinSec", { m: min, s }) : t("durMinutes", { m: min });
  return t("durSeconds", { s });
}

/** A running clock: "00:03", "12:40", "1:02:03" — same in every language. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / SECOND));
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** How long ago or how long for, in one rounded-down unit: "3分钟" / "3 min", "2小时" / "2 h". */
export function relativeAge(ms: number, locale: Locale): string {
  const t = m.t(locale);
  const age = Math.max(0, ms);
  if (age >= DAY) return t("ageDays", { n: Math.floor(age / DAY) });
  if (age >= HOUR) return t("ageHours", { n: Math.floor(age / HOUR) });
  if (age >= MINUTE) return t("ageMinutes", { n: Math.floor(age / MINUTE) });
  return t("ageSeconds", { n: Math.floor(age / SECOND) });
}

// Under this, "3 s ago" is noise that changes on every patch; "just now" stays put.
const JUST_NOW_MS = 10 * SECOND;

/** "3分钟前" / "3 min ago", or "刚刚" / "just now" for the last few seconds. */
export function timeAgo(at: number, now: number, locale: Locale): string {
  const t = m.t(locale);
  const age = now - at;
  return age < JUST_NOW_MS ? t("justNow") : t("ago", { age: relativeAge(age, locale) });
}
