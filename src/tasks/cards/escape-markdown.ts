/**
 * Every character Feishu's card markdown (`markdown`, `lark_md`) gives a meaning to:
 * emphasis, links, headings, lists, code, HTML-ish tags (`<at>`, `<font>`, `<a>`), emoji
 * shortcodes (`:OK:`), autolinks (`https://`), entities (`&`).
 */
const SPECIAL = /[\\`*_~[\]()<>#+\-!|{}&$:"'.=/@]/g;

/**
 * Text made inert for a card's markdown: each special character becomes its numeric HTML
 * entity (`*` → `&#42;`), the escape Feishu documents for its markdown. `<at id=all>` then
 * shows as written instead of mentioning everyone, `**x**` is not bold and `[x](http://e)`
 * is not a link. Newlines are kept (a line break stays a line break).
 *
 * Cards here put agents' and people's text in `plain_text` wherever they can; this is for
 * the few places that mix it with the bridge's own markup (a bold node name).
 */
export function escapeMarkdown(text: string): string {
  return text.replace(SPECIAL, (char) => `&#${char.charCodeAt(0)};`);
}
