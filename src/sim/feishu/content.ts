import { REFUSALS, type Refusal } from "./codes.js";
import type { FeishuLimits } from "./types.js";

export const MSG_TYPES = ["text", "post", "interactive", "image", "file"] as const;

/** The test hook: a card containing this string anywhere is refused with 230099. */
export const INVALID_CARD_MARKER = "i_am_invalid";

export type Checked = { ok: true; content: unknown; updateMulti: boolean } | { ok: false; refusal: Refusal };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks an Open API message body the way Feishu does, in order: msg_type, JSON content,
 * shape for the type, size, card validity.
 */
export function checkContent(msgType: unknown, content: unknown, limits: FeishuLimits): Checked {
  if (typeof msgType !== "string" || !(MSG_TYPES as readonly string[]).includes(msgType)) {
    return { ok: false, refusal: REFUSALS.fieldValidation };
  }
  if (typeof content !== "string") return { ok: false, refusal: REFUSALS.fieldValidation };
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    return { ok: false, refusal: REFUSALS.invalidContent };
  }
  const bytes = Buffer.byteLength(content, "utf8");
  if (msgType === "interactive") return checkCard(parsed, content, bytes, limits);
  if (!isObject(parsed) || !hasShape(msgType, parsed)) return { ok: false, refusal: REFUSALS.invalidContent };
  if ((msgType === "text" || msgType === "post") && bytes > limits.textMaxBytes) {
    return { ok: false, refusal: REFUSALS.contentTooLong };
  }
  return { ok: true, content: parsed, updateMulti: false };
}

/** Checks a card alone (also for PATCH). */
export function checkCard(parsed: unknown, raw: string, bytes: number, limits: FeishuLimits): Checked {
  if (bytes > limits.cardMaxBytes) return { ok: false, refusal: REFUSALS.contentTooLong };
  if (!isCard(parsed) || raw.includes(INVALID_CARD_MARKER))
    return { ok: false, refusal: REFUSALS.invalidCard };
  return { ok: true, content: parsed, updateMulti: cardUpdateMulti(parsed) };
}

/** A card Feishu would render: JSON 1.0 (`elements`/`header`), 2.0 (`body`), or a template. */
export function isCard(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (value.type === "template" && isObject(value.data)) return true;
  return Array.isArray(value.elements) || isObject(value.body) || isObject(value.header);
}

export function cardUpdateMulti(card: unknown): boolean {
  return isObject(card) && isObject(card.config) && card.config.update_multi === true;
}

function hasShape(msgType: string, content: Record<string, unknown>): boolean {
  switch (msgType) {
    case "text":
      return typeof content.text === "string";
    case "post":
      // Sent posts are per-locale (`{"zh_cn": {title, content}}`) or flat (`{title, content}`).
      return (
        Array.isArray(content.content) ||
        Object.values(content).some((v) => isObject(v) && Array.isArray(v.content))
      );
    case "image":
      return typeof content.image_key === "string";
    case "file":
      return typeof content.file_key === "string";
    default:
      return false;
  }
}

/** `<at user_id="ou_…">Name</at>` in an API-sent text (also `<at id=…>`, `<at open_id=…>`). */
const AT_TAG = /<at\s+(?:user_id|open_id|id)\s*=\s*"?([^"\s>]+)"?\s*>([^<]*)<\/at>/g;

/** The open_ids an API-sent message mentions (text `<at>` tags, post `at` elements), in order. */
export function mentionedOpenIds(msgType: string, content: unknown): string[] {
  const ids: string[] = [];
  if (msgType === "text" && isObject(content) && typeof content.text === "string") {
    for (const match of content.text.matchAll(AT_TAG)) ids.push(match[1]!);
  }
  if (msgType === "post") {
    for (const el of postElements(content))
      if (el.tag === "at" && typeof el.user_id === "string") ids.push(el.user_id);
  }
  return [...new Set(ids)];
}

/** Replaces `<at>` tags by the `@_user_N` keys a receiving app sees. */
export function textWithKeys(text: string, keyFor: (openId: string) => string | undefined): string {
  return text.replace(AT_TAG, (whole, id: string) => keyFor(id) ?? whole);
}

/** The paragraphs of a sent post (first locale when per-locale). */
export function postBody(content: unknown): { title: string; content: Record<string, unknown>[][] } {
  if (!isObject(content)) return { title: "", content: [] };
  const body = Array.isArray(content.content)
    ? content
    : Object.values(content).find((v) => isObject(v) && Array.isArray(v.content));
  if (!isObject(body)) return { title: "", content: [] };
  const paragraphs = (body.content as unknown[])
    .filter(Array.isArray)
    .map((p) => (p as unknown[]).filter(isObject));
  return { title: typeof body.title === "string" ? body.title : "", content: paragraphs };
}

function postElements(content: unknown): Record<string, unknown>[] {
  return postBody(content).content.flat();
}
