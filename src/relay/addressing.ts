import { nodeKey } from "../core/index.js";

/** The names one node answers to in the group. */
export interface AddressBookEntry {
  node: string;
  displayName?: string;
  /** `nodes[].bot.name`: its own Feishu bot's display name. */
  botName?: string;
}

/** How a node was addressed. */
export type AddressVia = "at-tag" | "bot-name" | "node-name" | "display-name";

/** A node a text addresses, and the text that addressed it (`@AI电脑`, or a whole `<at …>…</at>` tag). */
export interface Addressee {
  node: string;
  via: AddressVia;
  match: string;
}

/** One occurrence of an address in a text: `text.slice(start, end) === match`. */
export interface Mention extends Addressee {
  start: number;
  end: number;
}

type NameKind = Exclude<AddressVia, "at-tag">;

/** What a name stands for; no node: a broadcast (`@all`), which addresses nobody. */
interface Target {
  node?: string;
  via?: NameKind;
}

/** When two entries claim one name, the node name wins, then the bot name, then the display name. */
const KIND_RANK: Record<NameKind, number> = { "node-name": 0, "bot-name": 1, "display-name": 2 };

/**
 * Feishu's "everyone": reserved even if a node is called `all` — an agent writing `@all` means
 * the group, and relaying it to one node would surprise everybody else.
 */
const BROADCAST_NAMES = ["all", "所有人"];

const AT_TAG = /<at\b([^>]*)>([\s\S]*?)<\/at\s*>/gi;
const TAG_ATTRIBUTE = /([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g;
const TAG_ID_ATTRIBUTE = /^(?:user_id|open_id|union_id|id)$/i;
/** `@` as typed, full-width (a Chinese IME's default) or small; NFKC makes all three `@`. */
const AT_SIGN = /[@\uFF20\uFE6B]/g;
const MAYBE_ADDRESSED = /[@\uFF20\uFE6B]|<at\b/i;
/** One user-perceived character as far as names go: a code point with its combining marks. */
const CLUSTER = /[\s\S]\p{M}*/uy;
const COMBINING_AT_START = /^\p{M}/u;
const INLINE_SPACE = /^(?![\n\r\v\f\u2028\u2029])\s/u;
/**
 * A character that glues a following `@` into a word (`me@ai-pc.com`) or a URL path
 * (`…/@ai-pc`). Scripts written without spaces are exempt: `请@AI电脑 看看` is a mention.
 */
const GLUES_AT = /[\p{L}\p{N}\p{M}_/]/u;
const SPACELESS_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Bopomofo}]/u;
const ENDS_ASCII_ALNUM = /[a-z0-9]$/;
const CONTINUES_ASCII_NAME = /^[a-z0-9_-]/;
const CLAIMED_AFTER = /[:：,，]?[^\S\r\n]*/y;
const INLINE_SPACE_BEFORE = /[^\S\r\n]/;

/**
 * Who a node's message addresses (ARCHITECTURE.md "Routes" 1): the nodes it names with a
 * Feishu `<at …>Name</at>` tag or with `@<bot name>`, `@<node name>`, `@<displayName>`.
 *
 * The id inside an `<at>` tag is the open_id the *speaking node's* app sees — meaningless to
 * the bridge — so tags are matched by the name inside them. Names compare as `BotDirectory`
 * compares them: NFKC, case and whitespace ignored. Code (fenced blocks and inline spans) is
 * quoted, not addressed, and is skipped.
 */
export class AddressBook {
  private readonly byKey = new Map<string, Target>();
  /**
   * Names by their first character, longest first: the first one that fits after an `@` is
   * the longest match, and an `@` is only tried against names that can start there.
   */
  private readonly byFirstChar = new Map<string, [string, Target][]>();

  constructor(entries: readonly AddressBookEntry[]) {
    for (const name of BROADCAST_NAMES) this.byKey.set(nameKey(name), {});
    for (const entry of entries) {
      this.add(entry.node, entry.node, "node-name");
      this.add(entry.botName, entry.node, "bot-name");
      this.add(entry.displayName, entry.node, "display-name");
    }
    for (const named of [...this.byKey].sort(([a], [b]) => b.length - a.length)) {
      const first = String.fromCodePoint(named[0].codePointAt(0)!);
      this.byFirstChar.set(first, [...(this.byFirstChar.get(first) ?? []), named]);
    }
  }

  /** Nodes addressed in `text`, in order of first appearance, without repeats, never `speaker`. */
  addressees(text: string, options: { speaker?: string } = {}): Addressee[] {
    const seen = new Set<string>(options.speaker === undefined ? [] : [nodeKey(options.speaker)]);
    const addressees: Addressee[] = [];
    for (const { node, via, match } of this.mentions(text)) {
      if (seen.has(nodeKey(node))) continue;
      seen.add(nodeKey(node));
      addressees.push({ node, via, match });
    }
    return addressees;
  }

  /** The node a single name (a mention's display name; a leading `@` is ignored) stands for. */
  nodeForName(name: string): string | undefined {
    return this.byKey.get(nameKey(name))?.node;
  }

  /** Every address of a node in `text`, repeats included, in order. */
  mentions(text: string): Mention[] {
    if (!MAYBE_ADDRESSED.test(text)) return [];
    // 1: code, 2: an <at> tag — neither is scanned for `@name`.
    const mask = new Uint8Array(text.length);
    maskCode(text, mask);
    const found: Mention[] = [];

    AT_TAG.lastIndex = 0;
    for (let tag = AT_TAG.exec(text); tag; tag = AT_TAG.exec(text)) {
      if (mask[tag.index]) {
        // Quoted in code; a real tag may start inside what this match swallowed.
        AT_TAG.lastIndex = tag.index + 1;
        continue;
      }
      const end = tag.index + tag[0].length;
      mask.fill(2, tag.index, end);
      if (isBroadcastTag(tag[1] ?? "")) continue;
      const node = this.nodeForName(tag[2] ?? "");
      if (node) found.push({ node, via: "at-tag", match: tag[0], start: tag.index, end });
    }

    let scannedTo = 0;
    AT_SIGN.lastIndex = 0;
    for (let at = AT_SIGN.exec(text); at; at = AT_SIGN.exec(text)) {
      const start = at.index;
      if (start < scannedTo || mask[start] || start + 1 >= text.length || gluedToWord(text, start)) continue;
      const next = readUnit(text, start + 1).norm;
      const candidates = next ? this.byFirstChar.get(String.fromCodePoint(next.codePointAt(0)!)) : undefined;
      for (const [key, target] of candidates ?? []) {
        const end = matchName(text, start + 1, key, mask);
        if (end === undefined || !endsCleanly(text, end, key)) continue;
        scannedTo = end;
        if (target.node && target.via) {
          found.push({ node: target.node, via: target.via, match: text.slice(start, end), start, end });
        }
        break;
      }
    }
    return found.sort((a, b) => a.start - b.start);
  }

  private add(name: string | undefined, node: string, via: NameKind): void {
    const key = name === undefined ? "" : nameKey(name);
    if (!key) return;
    const existing = this.byKey.get(key);
    if (existing && (!existing.via || KIND_RANK[existing.via] <= KIND_RANK[via])) return;
    this.byKey.set(key, { node, via });
  }
}

/**
 * `text` with every address of `node` (tag or `@name`) removed and trimmed: what the addressee
 * should receive. A `:` or `,` right after the address goes with it (`@AI电脑，帮我…` → `帮我…`).
 */
export function withoutMention(text: string, node: string, book: AddressBook): string {
  const key = nodeKey(node);
  let kept = "";
  let last = 0;
  for (const mention of book.mentions(text)) {
    if (nodeKey(mention.node) !== key) continue;
    let start = mention.start;
    CLAIMED_AFTER.lastIndex = mention.end;
    const end = mention.end + (CLAIMED_AFTER.exec(text)?.[0].length ?? 0);
    // At the end of a line, the space before the address would be left dangling.
    if (end === text.length || text[end] === "\n" || text[end] === "\r") {
      while (start > last && INLINE_SPACE_BEFORE.test(text[start - 1] ?? "")) start--;
    }
    kept += text.slice(last, start);
    last = end;
  }
  return (kept + text.slice(last)).trim();
}

/** How names compare: NFKC, no whitespace, no case, no leading `@` (as `BotDirectory` does). */
function nameKey(name: string): string {
  return name.normalize("NFKC").replace(/\s+/g, "").toLowerCase().replace(/^@+/, "");
}

/**
 * Marks Markdown code: a run of backticks up to the next run of the same width (inline
 * code), or — three or more — up to a run at least as wide or the end of the text (a fence).
 * An inline run without its closer is a literal backtick.
 */
function maskCode(text: string, mask: Uint8Array): void {
  const runs = /`+/g;
  for (let run = runs.exec(text); run; run = runs.exec(text)) {
    const width = run[0].length;
    const closer = new RegExp(width >= 3 ? `\`{${width},}` : `(?<!\`)\`{${width}}(?!\`)`, "g");
    closer.lastIndex = run.index + width;
    const close = closer.exec(text);
    if (close) {
      const end = close.index + close[0].length;
      mask.fill(1, run.index, end);
      runs.lastIndex = end;
    } else if (width >= 3) {
      mask.fill(1, run.index);
      return;
    }
  }
}

function isBroadcastTag(attributes: string): boolean {
  for (const [, name = "", ...values] of attributes.matchAll(TAG_ATTRIBUTE)) {
    const value = values.find((v) => v !== undefined) ?? "";
    if (TAG_ID_ATTRIBUTE.test(name) && value.trim().toLowerCase() === "all") return true;
  }
  return false;
}

function gluedToWord(text: string, at: number): boolean {
  if (at === 0) return false;
  const code = text.charCodeAt(at - 1);
  const isLowSurrogate = code >= 0xdc00 && code <= 0xdfff;
  const before = text.slice(isLowSurrogate && at >= 2 ? at - 2 : at - 1, at);
  return GLUES_AT.test(before) && !SPACELESS_SCRIPT.test(before);
}

interface Unit {
  end: number;
  /** NFKC, lower case. */
  norm: string;
  space: boolean;
}

function readUnit(text: string, index: number): Unit {
  const code = text.charCodeAt(index);
  // ASCII without a combining mark after it needs no NFKC, which is slow next to everything else here.
  if (code < 0x80 && !COMBINING_AT_START.test(text.charAt(index + 1))) {
    const char = text.charAt(index);
    return { end: index + 1, norm: char.toLowerCase(), space: code === 0x20 || code === 0x09 };
  }
  CLUSTER.lastIndex = index;
  const cluster = CLUSTER.exec(text)?.[0] ?? text.charAt(index);
  return {
    end: index + cluster.length,
    norm: cluster.normalize("NFKC").toLowerCase(),
    space: INLINE_SPACE.test(cluster),
  };
}

/**
 * Where the name `key` ends if the text spells it from `from`: character by character under
 * NFKC and case folding, with spaces inside the name ignored (`@AI-PC助手` and `@ai-pc 助手` are
 * one name) — but not right after the `@`, not across a line break, and not into code or a tag.
 */
function matchName(text: string, from: number, key: string, mask: Uint8Array): number | undefined {
  let index = from;
  let matched = 0;
  while (matched < key.length) {
    if (index >= text.length || mask[index]) return undefined;
    const unit = readUnit(text, index);
    index = unit.end;
    if (unit.space) {
      if (matched === 0) return undefined;
      continue;
    }
    if (!key.startsWith(unit.norm, matched)) return undefined;
    matched += unit.norm.length;
  }
  return index;
}

/** `@ai-pc` must not be the start of `@ai-pc2` or `@ai-pc_test`; after CJK anything may follow. */
function endsCleanly(text: string, end: number, key: string): boolean {
  if (!ENDS_ASCII_ALNUM.test(key) || end >= text.length) return true;
  return !CONTINUES_ASCII_NAME.test(readUnit(text, end).norm);
}
