/** One line, at most `max` characters: what an audit line shows of long content. */
export function fold(text: string, max = 200): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * What an agent said, made unable to mention anyone when posted as text: a Feishu
 * `<at …>Name</at>` tag reads as `@Name`, a broken-up tag gets a zero-width space after `<`,
 * and one after `@` keeps "@所有人" / "@all" from reading as the mention.
 */
export function inertMentions(text: string): string {
  return text
    .replace(/<at\b[^>]*>([\s\S]*?)<\/at\s*>/gi, (_, name: string) => `@${name.trim()}`)
    .replace(/<(\s*at\b)/gi, "<\u200b$1")
    .replace(/@(所有人|all\b)/gi, "@\u200b$1");
}
