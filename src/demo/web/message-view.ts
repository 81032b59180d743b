import type { EmulatedMessage } from "../../sim/feishu/index.js";
import type { Sender, WorldDirectory } from "./world-directory.js";

/** A piece of a text message: words, a mention shown as the name, or an image in a post. */
export type TextPart = { text: string } | { mention: string } | { media: "image" };

/** One message as the page draws it. Everything in it is data: the page renders it as text. */
export interface MessageView {
  id: string;
  at: number;
  updatedAt: number;
  from: Sender;
  kind: "text" | "post" | "card" | "image" | "file" | "other";
  /** `text` and `post`: the words, mentions as names. */
  parts?: TextPart[];
  /** A relay audit line `[office-mac → ai-pc] …`: the pair, shown as a tag; `parts` is the rest. */
  audit?: { from: string; to: string };
  /** `card`: the card JSON as sent or last patched (schema 2.0 or 1.0). */
  card?: unknown;
  /** `file`: its name. */
  fileName?: string;
  /** The message this one replies to. */
  replyTo?: string;
  /** How many times the card changed. */
  patches: number;
  /** `msg_type` as Feishu has it (for the rare kinds shown as "other"). */
  msgType: string;
}

/** `<at user_id="ou_…">Name</at>` (also `id=` / `open_id=`), as the bridge writes mentions. */
const AT_TAG = /<at\s+(?:user_id|open_id|id)\s*=\s*["']?([^"'\s>]*)["']?\s*>([^<]*)<\/at>/g;
/** `@_user_3`: a mention key of an emulated message. */
const MENTION_KEY = /@_user_(\d+)/g;
/** The relay's audit line (`relayMessages.audit`, the same in both languages). */
const AUDIT = /^\[([^\]\n]{1,120}?) → ([^\]\n]{1,120}?)\] ?/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Turns an emulator message into what the page shows. */
export function messageView(message: EmulatedMessage, dir: WorldDirectory): MessageView {
  const from = dir.sender(message);
  const view: MessageView = {
    id: message.messageId,
    at: message.createdAt,
    updatedAt: message.updatedAt,
    from,
    kind: "other",
    patches: message.patches.length,
    msgType: message.msgType,
    ...(message.parentId ? { replyTo: message.parentId } : {}),
  };
  const content = message.content;
  switch (message.msgType) {
    case "text": {
      view.kind = "text";
      view.parts = textParts(message, dir);
      const audit = from.role === "bridge" ? auditOf(view.parts) : undefined;
      if (audit) {
        view.audit = audit.pair;
        view.parts = audit.rest;
      }
      break;
    }
    case "post":
      view.kind = "post";
      view.parts = postParts(content);
      break;
    case "interactive":
      view.kind = "card";
      view.card = content;
      break;
    case "image":
      view.kind = "image";
      break;
    case "file":
      view.kind = "file";
      view.fileName = isObject(content) && typeof content.file_name === "string" ? content.file_name : "";
      break;
  }
  return view;
}

function textParts(message: EmulatedMessage, dir: WorldDirectory): TextPart[] {
  const raw =
    isObject(message.content) && typeof message.content.text === "string" ? message.content.text : "";
  if (message.origin === "emulated") {
    // Emulated messages carry `@_user_N` keys and the mentioned union ids in key order.
    const names = message.mentions.map((unionId) => dir.nameOfUnion(unionId));
    if (names.some((name) => name === undefined)) return [{ text: message.text ?? raw }];
    return split(raw, MENTION_KEY, (match) => {
      const name = names[Number(match[1]) - 1];
      return name === undefined ? { text: match[0] } : { mention: name };
    });
  }
  return split(raw, AT_TAG, (match) => {
    const id = match[1] ?? "";
    const written = (match[2] ?? "").trim();
    const name = id === "all" ? written || "all" : written || dir.names[id] || id;
    return { mention: name };
  });
}

/** Splits `text` at each match of `pattern`, the matches turned into parts by `part`. */
function split(text: string, pattern: RegExp, part: (match: RegExpExecArray) => TextPart): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push(part(match as RegExpExecArray));
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

function auditOf(parts: TextPart[]): { pair: { from: string; to: string }; rest: TextPart[] } | undefined {
  const first = parts[0];
  if (!first || !("text" in first)) return undefined;
  const match = AUDIT.exec(first.text);
  if (!match) return undefined;
  const remainder = first.text.slice(match[0].length);
  const rest = remainder === "" ? parts.slice(1) : [{ text: remainder }, ...parts.slice(1)];
  return { pair: { from: match[1]!, to: match[2]! }, rest };
}

/** A rich-text post flattened: text and links as words, `at` as mentions, images as a marker. */
function postParts(content: unknown): TextPart[] {
  if (!isObject(content)) return [];
  const body = Array.isArray(content.content)
    ? content
    : Object.values(content).find((v) => isObject(v) && Array.isArray(v.content));
  if (!isObject(body) || !Array.isArray(body.content)) return [];
  const parts: TextPart[] = [];
  if (typeof body.title === "string" && body.title !== "") parts.push({ text: `${body.title}\n` });
  body.content.forEach((paragraph: unknown, index: number) => {
    if (index > 0) parts.push({ text: "\n" });
    if (!Array.isArray(paragraph)) return;
    for (const el of paragraph) {
      if (!isObject(el)) continue;
      if (el.tag === "at") parts.push({ mention: typeof el.user_name === "string" ? el.user_name : "?" });
      else if (el.tag === "img") parts.push({ media: "image" });
      else if (typeof el.text === "string") parts.push({ text: el.text });
    }
  });
  return parts;
}
