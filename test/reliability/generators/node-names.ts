import fc from "fast-check";

/**
 * Names that are no node name (ARCHITECTURE.md: `^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`): paths
 * up, absolute, nested or Windows-style, NUL inside, white space, dots, other scripts, too
 * long. In `to` each makes the line no envelope.
 */
export const notANodeName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "../x",
    "..\\x",
    "../../etc/passwd",
    "/etc",
    "/etc/passwd",
    "C:\\Windows",
    "\\\\server\\share",
    "a/b",
    "a\\b",
    "..",
    ".",
    "",
    " ",
    ".hidden",
    "-x",
    "_x",
    "ai-pc ",
    " ai-pc",
    "ai-pc\n",
    "x\u0000y",
    "ai-pc\u0000",
    "\u0000",
    "con.txt",
    "a.b",
    "名字",
    "ai‐pc", // U+2010 HYPHEN, not "-"
    "to-ai-pc.jsonl",
  ),
  fc.integer({ min: 64, max: 600 }).map((n) => "n".repeat(n)),
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9]{1,20}$/),
      fc.constantFrom("/", "\\", "\u0000", "..", " ", ":", "*"),
    )
    .map(([name, bad]) => `${name}${bad}${name}`),
);

/**
 * Names the pattern allows although Windows reserves them for devices, or the bridge for
 * itself (`mailbox.self`), in any case. They are valid addressees: no node of that name is
 * configured, so the relay routes a line to them nowhere.
 */
export const reservedButValidName: fc.Arbitrary<string> = fc.constantFrom(
  "con",
  "nul",
  "CON",
  "aux",
  "prn",
  "com1",
  "lpt1",
  "clawbridge",
  "CLAWBRIDGE",
);

/**
 * `from` is free text (a node, `user:<open_id>`, the bridge): these senders are accepted and
 * their lines delivered, but a path must never be made of them. The answer goes to the
 * bridge's own inbox, since none of them is a configured node.
 */
export const oddSender: fc.Arbitrary<string> = fc.constantFrom(
  "../x",
  "..\\x",
  "/etc",
  "a/b",
  "con",
  "nul",
  "clawbridge",
  "x\u0000y",
  "名字",
  "user:ou_../../x",
  "s".repeat(256),
);
