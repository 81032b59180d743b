import { promises as fs, readFileSync } from "node:fs";

/**
 * A process killed with SIGKILL can leave half a line: Linux may cut a large write() short
 * when a fatal signal arrives between pages. Such a line was never committed, so the test
 * consumers drop it before appending again (or the next record would be glued to it), and
 * readers count only whole lines.
 */
export async function dropTornTail(file: string): Promise<string> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  if (text === "" || text.endsWith("\n")) return text;
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  await fs.truncate(file, Buffer.byteLength(whole));
  return whole;
}

/** The whole (newline-terminated) lines of a file another process may be writing or was killed writing. */
export function wholeLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const lines = text.split("\n");
  lines.pop(); // "" after the last newline, or a line still being written
  return lines.filter((l) => l);
}
