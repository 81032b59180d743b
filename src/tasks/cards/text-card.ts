import type { CardJson } from "../../feishu/index.js";
import { card, largestFitting, plainText, type HeaderColor } from "./card-parts.js";
import { clipHead } from "./clip-text.js";

const MAX_LINES = 60;
const LINE_CHARS = 500;

/**
 * A small card of plain lines under a title (`/tasks`, `/task T7`, `/help`). Lines are
 * `plain_text`, so they may hold anything; a long list loses lines from its end to fit.
 */
export function textCard(title: string, lines: string[], color: HeaderColor = "blue"): CardJson {
  const clipped = lines.map((line) => clipHead(line, LINE_CHARS));
  const build = (count: number): CardJson => {
    const kept = clipped.slice(0, count);
    if (clipped.length > count) kept.push("…");
    return card(title, color, kept.length === 0 ? [] : [plainText(kept.join("\n"))]);
  };
  const most = Math.min(clipped.length, MAX_LINES);
  return largestFitting(build, Math.min(1, most), most);
}
