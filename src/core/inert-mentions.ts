/**
 * Someone else's text (an agent's answer, a mailbox line, an error) made unable to mention
 * anyone when the bridge posts it as a Feishu `text` message. A complete
 * `<at …>Name</at>` tag becomes plain `@Name`; what is left of a tag gets a zero-width space
 * after `<`, and one after `@` keeps "@所有人" / "@all" from reading as the mention.
 * What people read stays the same.
 */
export function inertMentions(text: string): string {
  return inertLabels(text)
    .replace(/<at\b[^>]*>([^<]*[^<\s][^<]*)<\/at\s*>/gi, (_, name: string) => `@${name.trim()}`)
    .replace(/<(\s*at\b)/gi, "<\u200b$1")
    .replace(/@(所有人|all\b)/gi, "@\u200b$1");
}

/** A line that starts with `[a → b]` (any arrow) or `[one-word]` of two characters or more. */
const LABEL_LINE =
  /(\n[ \t\u3000]*)(?=[[［【](?:[^\]］】\n]{0,80}(?:→|->|⇒)[^\]］】\n]{0,80}|[^\s\]］】]{2,80})[\]］】])/g;

/**
 * A line of someone else's text that starts like the bridge's own labels (`[a → b] …`,
 * `[node] …`) is marked as quoted with `› `: inside an answer it could otherwise pass for
 * an audit line or another node's answer. The first line follows the bridge's own label.
 */
function inertLabels(text: string): string {
  return text.replace(LABEL_LINE, "$1› ");
}
