import fc from "fast-check";
import {
  asGb18030,
  brokenUtf8,
  GBK_WORDS,
  randomLineBytes,
  stringWithBytes,
  utf16le,
} from "./broken-bytes.js";
import { deepLine } from "./deep-json.js";
import { missingFields, notAnEnvelopeObject, wrongField } from "./envelope-fields.js";
import {
  BAD_LINE_INBOXES,
  badLine,
  GATEWAY_NODES,
  jsonBytes,
  MAILBOX_ONLY_NODE,
  seedEnvelope,
  SELF,
  type LineDraft,
} from "./mailbox-line.js";
import { notANodeName, oddSender, reservedButValidName } from "./node-names.js";

const BOM = Buffer.of(0xef, 0xbb, 0xbf);
const inbox = fc.constantFrom(...BAD_LINE_INBOXES);
const gatewayNode = fc.constantFrom(...GATEWAY_NODES);
const VALID = JSON.stringify(seedEnvelope("ai-pc", "hello"));

/** Splices `inner` into the seed envelope's JSON in place of `"to":"<to>"`'s value. */
function withRawTo(rawTo: Buffer): Buffer {
  const [head, tail] = VALID.split('"ai-pc"') as [string, string];
  return Buffer.concat([Buffer.from(head), rawTo, Buffer.from(tail)]);
}

/**
 * Every kind of line the bridge must set aside, each drawn at random within its kind. None
 * can be an envelope or blank, whatever is drawn: each breaks a rule of the contract.
 */
export const quarantinedLine: fc.Arbitrary<LineDraft> = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(inbox, randomLineBytes).map(([i, b]) => badLine("random bytes", i, b)) },
  {
    weight: 8,
    arbitrary: fc
      .tuple(inbox, brokenUtf8)
      .map(([i, { flaw, bytes }]) =>
        badLine(`broken UTF-8 in to (${flaw})`, i, withRawTo(stringWithBytes("ai", bytes, "pc"))),
      ),
  },
  {
    weight: 6,
    arbitrary: fc.tuple(inbox, brokenUtf8).map(([i, { flaw, bytes }]) => {
      const [head, tail] = VALID.split(',"to"') as [string, string];
      return badLine(
        `broken UTF-8 between fields (${flaw})`,
        i,
        Buffer.concat([Buffer.from(`${head},`), bytes, Buffer.from(`"to"${tail}`)]),
      );
    }),
  },
  {
    weight: 30,
    arbitrary: fc
      .tuple(inbox, gatewayNode, wrongField)
      .map(([i, to, { field, value }]) =>
        badLine(`wrong ${field}`, i, jsonBytes({ ...seedEnvelope(to, "wrong field"), [field]: value })),
      ),
  },
  {
    weight: 10,
    arbitrary: fc.tuple(inbox, gatewayNode, missingFields).map(([i, to, fields]) => {
      const envelope = seedEnvelope(to, "missing");
      for (const field of fields) delete envelope[field];
      return badLine(`missing ${fields.join("+")}`, i, jsonBytes(envelope));
    }),
  },
  {
    weight: 10,
    arbitrary: fc
      .tuple(inbox, notANodeName)
      .map(([i, name]) =>
        badLine("to: no node name (path-like, NUL, long …)", i, jsonBytes(seedEnvelope(name, "path"))),
      ),
  },
  {
    weight: 8,
    arbitrary: fc
      .tuple(inbox, notAnEnvelopeObject(VALID))
      .map(([i, { shape, text }]) =>
        badLine(`not one envelope object: ${shape}`, i, Buffer.from(text, "utf8")),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(inbox, fc.boolean(), fc.boolean()).map(([i, leadingNul, bom]) => {
      const text = utf16le(`${VALID}\r`, leadingNul);
      return badLine(
        `UTF-16LE (PowerShell >>)${bom ? " with BOM" : ""}`,
        i,
        bom ? Buffer.concat([Buffer.of(0xff, 0xfe), text]) : text,
      );
    }),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(inbox, fc.nat()).map(([i, at]) => {
      // A BOM where JSON allows only white space: between two fields.
      const cut = VALID.indexOf(",", at % (VALID.length - 1));
      const where = cut < 0 ? VALID.indexOf(",") : cut;
      return badLine(
        "BOM inside a line",
        i,
        Buffer.concat([Buffer.from(VALID.slice(0, where + 1)), BOM, Buffer.from(VALID.slice(where + 1))]),
      );
    }),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(inbox, gatewayNode).map(([i, to]) => {
      const line = JSON.stringify(seedEnvelope(to, "cr"));
      return badLine("two lines joined by a lone CR", i, Buffer.from(`${line}\r${line}`));
    }),
  },
);

/** Deep nesting, 10,000 levels by default: a whole line, a required field, an unknown field. */
export const deeplyNestedLine = (depth: fc.Arbitrary<number>): fc.Arbitrary<LineDraft> =>
  fc
    .tuple(inbox, gatewayNode)
    .chain(([i, to]) =>
      deepLine(depth, to).map(({ where, text }) => badLine(`nested deep: ${where}`, i, Buffer.from(text))),
    );

/** A line longer than `maxLineBytes`: a huge `content`, or huge junk. */
export const oversizeLine = (maxLineBytes: number, maxBytes: number): fc.Arbitrary<LineDraft> =>
  fc
    .tuple(inbox, fc.integer({ min: maxLineBytes + 1, max: maxBytes }), fc.boolean())
    .map(([i, size, asEnvelope]) => {
      if (!asEnvelope) return badLine("oversize junk", i, Buffer.alloc(size, 0x61));
      const empty = jsonBytes(seedEnvelope("ai-pc", "")).length;
      return badLine("oversize envelope", i, jsonBytes(seedEnvelope("ai-pc", "x".repeat(size - empty))));
    });

/** Envelopes that must be delivered once each, in the forms a real agent writes them. */
export const deliveredLine: fc.Arbitrary<LineDraft> = fc.oneof(
  gatewayNode.map(
    (to): LineDraft =>
      (m) =>
        deliver("seed line", to, jsonBytes(seedEnvelope(to, m)), m),
  ),
  gatewayNode.map(
    (to): LineDraft =>
      (m) =>
        deliver("with id", to, jsonBytes({ ...seedEnvelope(to, m), id: `v-${m}` }), m),
  ),
  gatewayNode.map(
    (to): LineDraft =>
      (m) =>
        deliver("CRLF", to, Buffer.from(`${JSON.stringify(seedEnvelope(to, m))}\r`), m),
  ),
  gatewayNode.map(
    (to): LineDraft =>
      (m) =>
        deliver("BOM at line start", to, Buffer.concat([BOM, jsonBytes(seedEnvelope(to, m))]), m),
  ),
  fc.tuple(gatewayNode, fc.constantFrom(" ", "\t", "  \t")).map(
    ([to, pad]): LineDraft =>
      (m) =>
        deliver(
          "white space around",
          to,
          Buffer.from(`${pad}${JSON.stringify(seedEnvelope(to, m))}${pad}`),
          m,
        ),
  ),
  fc
    .tuple(
      gatewayNode,
      fc.constantFrom("__proto__", "constructor", "x-agent", "meta"),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(([to, key, value]): LineDraft => (m) => {
      // Written as text: an object literal with a `__proto__` key would set the prototype instead.
      const text = `${JSON.stringify(seedEnvelope(to, m)).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
      return deliver(`unknown field ${key}`, to, Buffer.from(text), m);
    }),
  fc.tuple(gatewayNode, fc.constantFrom(...GBK_WORDS)).map(([to, word]): LineDraft => (m) => {
    const [head, tail] = JSON.stringify(seedEnvelope(to, `${m} @@`)).split("@@") as [string, string];
    return deliver(
      "GB18030 content",
      to,
      Buffer.concat([Buffer.from(head), word.bytes, Buffer.from(tail)]),
      m,
      word.text,
    );
  }),
  fc.tuple(gatewayNode, oddSender).map(([to, from]): LineDraft => (m) => ({
    ...deliver(
      `odd sender ${JSON.stringify(from).slice(0, 16)}`,
      to,
      jsonBytes({ ...seedEnvelope(to, m), from }),
      m,
    ),
    answerInbox: SELF,
  })),
);

/**
 * Broken UTF-8 inside `content`: the contract tries GB18030 before giving up, so the line is
 * delivered when the platform's GB18030 decoder takes the whole line, and quarantined when not.
 */
export const brokenContentLine: fc.Arbitrary<LineDraft> = fc
  .tuple(gatewayNode, brokenUtf8, fc.constantFrom("", "z", "1", " ", "好"))
  .map(([to, { flaw, bytes }, after]): LineDraft => (m) => {
    const [head, tail] = JSON.stringify(seedEnvelope(to, "@@")).split('"@@"') as [string, string];
    const line = Buffer.concat([
      Buffer.from(head),
      stringWithBytes(`${m} `, bytes, after),
      Buffer.from(tail),
    ]);
    const kind = `broken UTF-8 in content (${flaw})`;
    return asGb18030(line) === undefined
      ? { kind, inbox: to, bytes: line, fate: "quarantine" }
      : deliver(`${kind}, read as GB18030`, to, line, m);
  });

/** Lines that are read and routed nowhere: blank, addressed to no configured node, or claiming to be the bridge's. */
export const ignoredLine: fc.Arbitrary<LineDraft> = fc.oneof(
  fc.tuple(inbox, fc.constantFrom(" ", "\t", "\r", " \t \r")).map(([i, blank]): LineDraft => () => ({
    kind: "blank",
    inbox: i,
    bytes: Buffer.from(blank),
    fate: "ignore",
  })),
  fc.tuple(inbox, reservedButValidName).map(([i, to]): LineDraft => (m) => ({
    kind: `to a reserved name (${to})`,
    inbox: i,
    bytes: jsonBytes(seedEnvelope(to, m)),
    fate: "ignore",
    marker: m,
  })),
  fc
    .tuple(gatewayNode, fc.constantFrom({ source: "clawbridge" }, { delivered: "gateway" }))
    .map(([to, claim]): LineDraft => (m) => ({
      kind: `claims to be the bridge's (${Object.keys(claim)[0]})`,
      inbox: to,
      bytes: jsonBytes({ ...seedEnvelope(to, m), ...claim }),
      fate: "ignore",
      marker: m,
    })),
);

function deliver(kind: string, to: string, bytes: Buffer, marker: string, alsoSays?: string) {
  return {
    kind,
    inbox: to,
    bytes,
    fate: "deliver" as const,
    marker: alsoSays ? `${marker} ${alsoSays}` : marker,
    answerInbox: MAILBOX_ONLY_NODE,
  };
}

/** The plainest valid line: a seed envelope from the mailbox-only node. */
export function plainDelivery(to: string, marker: string) {
  return deliver("seed line", to, jsonBytes(seedEnvelope(to, marker)), marker);
}

/** A valid line of exactly `size` bytes: the longest a line may be. */
export function lineOfExactly(size: number, to: string, marker: string) {
  const empty = jsonBytes(seedEnvelope(to, marker)).length;
  return deliver(
    "exactly maxLineBytes",
    to,
    jsonBytes(seedEnvelope(to, marker + "y".repeat(size - empty))),
    marker,
  );
}
