import fc from "fast-check";

const NEWLINE = 0x0a;

/**
 * Bytes that are not text: anything but a newline (which would split the line), with one
 * raw control character (U+0001–U+0008) inserted somewhere. JSON allows none outside
 * escapes, and no decoding (UTF-8 or GB18030) turns it into white space, so the line can be
 * neither an envelope nor blank — whatever the rest is.
 */
export const randomLineBytes: fc.Arbitrary<Buffer> = fc
  .tuple(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.integer({ min: 1, max: 8 }), fc.nat())
  .map(([raw, control, at]) => {
    const bytes = Buffer.from(raw.filter((b) => b !== NEWLINE));
    const cut = bytes.length === 0 ? 0 : at % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, cut), Buffer.of(control), bytes.subarray(cut)]);
  });

/** Sequences that are not UTF-8, by the kind of mistake (RFC 3629 §3 and §10). */
export const brokenUtf8: fc.Arbitrary<{ flaw: string; bytes: Buffer }> = fc.oneof(
  fc.integer({ min: 0x80, max: 0xbf }).map((b) => ({ flaw: "lone continuation", bytes: Buffer.of(b) })),
  fc
    .tuple(fc.integer({ min: 0xc0, max: 0xc1 }), fc.integer({ min: 0x80, max: 0xbf }))
    .map(([a, b]) => ({ flaw: "overlong 2-byte", bytes: Buffer.of(a, b) })),
  fc
    .tuple(fc.integer({ min: 0x80, max: 0x9f }), fc.integer({ min: 0x80, max: 0xbf }))
    .map(([b, c]) => ({ flaw: "overlong 3-byte", bytes: Buffer.of(0xe0, b, c) })),
  fc
    .tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.integer({ min: 0x80, max: 0xbf }))
    .map(([b, c]) => ({ flaw: "overlong 4-byte", bytes: Buffer.of(0xf0, b, c, 0x80) })),
  fc
    .tuple(fc.integer({ min: 0xa0, max: 0xbf }), fc.integer({ min: 0x80, max: 0xbf }))
    .map(([b, c]) => ({ flaw: "UTF-16 surrogate", bytes: Buffer.of(0xed, b, c) })),
  fc
    .integer({ min: 0xf5, max: 0xff })
    .map((b) => ({ flaw: "byte never in UTF-8", bytes: Buffer.of(b, 0x80) })),
  fc
    .constantFrom(Buffer.of(0xe4, 0xb8), Buffer.of(0xf0, 0x9f, 0x98), Buffer.of(0xc3), Buffer.of(0xe2, 0x82))
    .map((bytes) => ({ flaw: "truncated sequence", bytes })),
  fc.constant({ flaw: "beyond U+10FFFF", bytes: Buffer.of(0xf4, 0x90, 0x80, 0x80) }),
);

/** A JSON string literal's bytes with `flawed` spliced into its text (after `prefix`). */
export function stringWithBytes(prefix: string, flawed: Buffer, suffix: string): Buffer {
  return Buffer.concat([Buffer.from(`"${prefix}`, "utf8"), flawed, Buffer.from(`${suffix}"`, "utf8")]);
}

/** The platform's own GB18030 decoder: what the contract says a non-UTF-8 line is tried as. */
const gb18030 = new TextDecoder("gb18030", { fatal: true });

/** The text GB18030 makes of `bytes`, or undefined when they are not GB18030 either. */
export function asGb18030(bytes: Buffer): string | undefined {
  try {
    return gb18030.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A few characters as GBK/GB18030 bytes (Chinese Windows tools): 中文 你好 电脑. */
export const GBK_WORDS: readonly { text: string; bytes: Buffer }[] = [
  { text: "中文", bytes: Buffer.of(0xd6, 0xd0, 0xce, 0xc4) },
  { text: "你好", bytes: Buffer.of(0xc4, 0xe3, 0xba, 0xc3) },
  { text: "电脑", bytes: Buffer.of(0xb5, 0xe7, 0xc4, 0xd4) },
];

/** The line as Windows PowerShell 5's `>>` writes it: UTF-16LE (its newline `0A 00` leaves a NUL in front of the next line). */
export function utf16le(text: string, leadingNul: boolean): Buffer {
  const bytes = Buffer.from(text, "utf16le");
  return leadingNul ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
}
