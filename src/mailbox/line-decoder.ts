import { isUtf8 } from "node:buffer";

export type LineEncoding = "utf-8" | "gb18030";

export type DecodedLine = { text: string; encoding: LineEncoding } | { error: string };

const gb18030 = new TextDecoder("gb18030", { fatal: true });

/**
 * Bytes of one line (without its `\n`) → text. A trailing `\r` (CRLF files from Windows
 * agents) is dropped; bytes that are not UTF-8 are tried as GB18030, which Chinese Windows
 * tools still write.
 */
export function decodeLine(bytes: Buffer): DecodedLine {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const line = end === bytes.length ? bytes : bytes.subarray(0, end);
  if (isUtf8(line)) return { text: line.toString("utf8"), encoding: "utf-8" };
  if (isUtf16Bom(line)) {
    return { error: "UTF-16 text (it starts with a UTF-16 byte order mark): write UTF-8" };
  }
  try {
    return { text: gb18030.decode(line), encoding: "gb18030" };
  } catch {
    return { error: "not valid UTF-8 or GB18030 text" };
  }
}

/** The UTF-8 byte order mark some Windows editors put at the start of a file. */
export function bomLength(bytes: Buffer): number {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/** FF FE or FE FF: the start of a file Windows PowerShell 5 wrote (`>>`, Out-File). */
function isUtf16Bom(bytes: Buffer): boolean {
  return (
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  );
}
