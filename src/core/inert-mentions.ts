/**
 * Someone else's text (an agent's answer, a mailbox line, an error) made unable to mention
 * anyone when the bridge posts it as a Feishu `text` message. A complete
 * `<at …>Name</at>` tag becomes plain `@Name`; what is left of a tag gets a zero-width space
 * after `<`, and one after `@` keeps "@所有人" / "@all" from reading as the mention.
 * What people read stays the same.
 */
export function inertMentions(text: string): string {
  return text
    .replace(/<at\b[^>]*>([^<]*[^<\s][^<]*)<\/at\s*>/gi, (_, name: string) => `@${name.trim()}`)
    .replace(/<(\s*at\b)/gi, "<\u200b$1")
    .replace(/@(所有人|all\b)/gi, "@\u200b$1");
}
