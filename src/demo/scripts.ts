import type { Envelope, Locale } from "../core/index.js";
import type { ReplyScript, ScriptContext } from "../sim/fake-gateway.js";
import { demoMessages } from "./messages.js";

/**
 * The sandbox's scripted agents. ai-pc is fast and terse (a GPU box), office-mac slow and
 * wordy (a desk Mac), nas-agent answers through the shared folder only: three visibly
 * different nodes, so a visitor can tell who answered and how long each took.
 */

/** Streaming of each gateway node's answers: pieces and the pause between them. */
export const AI_PC_PACE = { chunks: 3, delayMs: 60 } as const;
export const OFFICE_PACE = { chunks: 5, delayMs: 300 } as const;
/** The mailbox-only agent reads its inbox every pollMs and then takes delayMs to answer. */
export const NAS_PACE = { pollMs: 100, delayMs: 800 } as const;

/** The words an agent is asked, without the `[clawbridge] task … from …:` header the bridge adds. */
export function questionOf(message: string): string {
  const header = /^\[clawbridge\][^\n]*\n\n/.exec(message);
  return (header ? message.slice(header[0].length) : message).trim();
}

/** The start of a question, for answers that quote it. */
export function headOf(text: string, max = 40): string {
  const chars = Array.from(text.replace(/\s+/g, " ").trim());
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : chars.join("");
}

/** ai-pc's answer: picked by what is asked, so `/run #gpu 画一只猫` draws a cat. */
export function aiPcAnswer(message: string, locale: Locale): string {
  const t = demoMessages.t(locale);
  const question = questionOf(message);
  if (/猫|喵|cat|kitten/i.test(question)) return t("aiPcCat");
  if (/gpu|显卡|显存|忙/i.test(question)) return t("aiPcGpu");
  if (/bench|跑分|基准/i.test(question)) return t("aiPcBenchmark");
  return t("aiPcDefault", { head: headOf(question) });
}

/** office-mac's answer; an answer relayed back from another node gets a thank-you, not a new question. */
export function officeAnswer(message: string, locale: Locale, nodes: readonly string[]): string {
  const t = demoMessages.t(locale);
  const from = /^\[clawbridge\] \w+ from (?:[^\n(]*\()?([\w-]+)\)?:/.exec(message)?.[1];
  if (from && nodes.includes(from)) return t("officeThanks", { node: from });
  return t("officeDefault", { head: headOf(questionOf(message)) });
}

/**
 * nas-agent's answer to a line in its inbox; an answer to something it said is left alone
 * (undefined), or it and a node that always answers would write to each other forever.
 */
export function nasAnswer(envelope: Envelope, locale: Locale): string | undefined {
  if (envelope.replyTo !== undefined) return undefined;
  return demoMessages.t(locale)("nasDefault", { head: headOf(questionOf(envelope.content)) });
}

/** A fake gateway's script from an answer function, at the node's pace. */
export function scripted(
  answer: (message: string) => string,
  pace: { chunks: number; delayMs: number },
): (ctx: ScriptContext) => ReplyScript {
  return (ctx) => ({ kind: "text", text: answer(ctx.message), chunks: pace.chunks, delayMs: pace.delayMs });
}
