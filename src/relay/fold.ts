/** One line, at most `max` characters: what an audit line shows of long content. */
export function fold(text: string, max = 200): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
