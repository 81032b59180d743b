import type { Mentionable } from "./world-directory.js";

/** What the visitor typed, with the bots it @mentions taken out (Feishu puts mentions first). */
export interface TypedMessage {
  text: string;
  /** Mention ids (`bridge` or a node name), in the order typed, each once. */
  mentions: string[];
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Finds `@<bot name>` in typed text — after a space or at the start, ending at a space,
 * punctuation or the end — longest name first, so "@AI-PC 助手" wins over a bot named
 * "AI-PC". Only bots are mentions: `@ai-pc` (a node's name) stays text, which is how the
 * relay is addressed for a node without its own bot.
 */
export function typedMentions(
  typed: string,
  mentionables: Mentionable[],
  explicit: string[] = [],
): TypedMessage {
  const mentions: string[] = [];
  const add = (id: string) => {
    if (!mentions.includes(id)) mentions.push(id);
  };
  explicit.forEach(add);
  const byName = [...mentionables].sort((a, b) => b.name.length - a.name.length);
  if (byName.length === 0) return { text: typed.trim(), mentions };
  const names = byName.map((m) => escapeRegExp(m.name)).join("|");
  const pattern = new RegExp(`(^|\\s)@(${names})(?=$|[\\s,.;:!?，。；：！？、])`, "gu");
  const text = typed.replace(pattern, (_whole, before: string, name: string) => {
    const hit = byName.find((m) => m.name === name);
    if (hit) add(hit.id);
    return before;
  });
  return { text: text.replace(/[ \t]{2,}/g, " ").trim(), mentions };
}
