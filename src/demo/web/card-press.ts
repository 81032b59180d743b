import { isDeepStrictEqual } from "node:util";
import type { DeliveryResult, EmulatedMessage, Toast } from "../../sim/feishu/index.js";
import type { DemoWorld } from "../types.js";
import { DemoApiError } from "./api-error.js";
import type { CardAction } from "./api-schemas.js";

/** What the page learns from a press: the bridge's toast, when it gave one. */
export interface PressResult {
  toast?: { type: string; content: string };
}

/**
 * A card button pressed or a form submitted by the visitor, through the emulator exactly as
 * the Feishu client would: the bridge gets `card.action.trigger`, and its answer's card
 * replaces the message's card. Only what the card currently offers can be pressed — a
 * button the last patch removed is refused (409) rather than sent with a stale value.
 */
export async function pressCard(world: DemoWorld, action: CardAction): Promise<PressResult> {
  const message = world.emulator.message(action.messageId);
  if (!message || message.chatId !== world.chatId) {
    throw new DemoApiError(404, "unknownMessage", { id: action.messageId });
  }
  if (message.msgType !== "interactive" || !message.senderAppId) {
    throw new DemoApiError(409, "notACard", { id: action.messageId });
  }
  let emitted;
  if (action.kind === "button") {
    if (!buttonValues(message.content).some((value) => isDeepStrictEqual(value, action.value))) {
      throw new DemoApiError(409, "staleButton");
    }
    emitted = world.emulator.clickCard(message.messageId, world.visitor, action.value);
  } else {
    const fields = formFields(message);
    if (!fields) throw new DemoApiError(409, "notAForm", { id: action.messageId });
    for (const field of Object.keys(action.formValue)) {
      if (!fields.includes(field))
        throw new DemoApiError(400, "unknownField", { id: action.messageId, field });
    }
    emitted = world.emulator.submitForm(
      message.messageId,
      world.visitor,
      action.formValue,
      action.name !== undefined ? { name: action.name } : {},
    );
  }
  const result = await emitted.delivered;
  const failure = deliveryFailure(result);
  if (failure) throw new DemoApiError(502, "actionFailed", { reason: failure });
  const toast = toastOf(result);
  return toast ? { toast } : {};
}

/** Every callback value of the card's buttons (2.0 `behaviors`, or 1.0 `value`), forms excepted. */
export function buttonValues(card: unknown): unknown[] {
  const values: unknown[] = [];
  const walk = (node: unknown, inForm: boolean): void => {
    if (Array.isArray(node)) return node.forEach((item) => walk(item, inForm));
    if (!isObject(node)) return;
    if (node.tag === "button" && !inForm) {
      const behaviors = Array.isArray(node.behaviors) ? node.behaviors : [];
      const callback = behaviors.find((b) => isObject(b) && b.type === "callback");
      if (isObject(callback) && callback.value !== undefined) values.push(callback.value);
      else if (node.value !== undefined) values.push(node.value);
    }
    const form = inForm || node.tag === "form";
    for (const [key, inner] of Object.entries(node)) if (key !== "behaviors") walk(inner, form);
  };
  walk(card, false);
  return values;
}

/** The names of the fields of the card's form(s); undefined when it has none. */
function formFields(message: EmulatedMessage): string[] | undefined {
  let found = false;
  const names: string[] = [];
  const walk = (node: unknown, inForm: boolean): void => {
    if (Array.isArray(node)) return node.forEach((item) => walk(item, inForm));
    if (!isObject(node)) return;
    const form = inForm || node.tag === "form";
    if (node.tag === "form") found = true;
    if (inForm && typeof node.name === "string" && node.tag !== "button") names.push(node.name);
    for (const inner of Object.values(node)) walk(inner, form);
  };
  walk(message.content, false);
  return found ? names : undefined;
}

function deliveryFailure(result: DeliveryResult): string | undefined {
  if (result.via === "none") return result.reason;
  if (result.timedOut) return "timeout";
  if (result.via === "websocket" && result.code !== 200) return `code ${result.code}`;
  if (result.via === "webhook" && (result.status < 200 || result.status >= 300))
    return `HTTP ${result.status}`;
  return undefined;
}

/** The toast of the bridge's answer: the ack's data (long connection) or the HTTP body (webhook). */
function toastOf(result: DeliveryResult): { type: string; content: string } | undefined {
  const answer =
    result.via === "websocket" ? result.data : result.via === "webhook" ? result.body : undefined;
  if (!isObject(answer) || !isObject(answer.toast)) return undefined;
  const toast = answer.toast as Toast;
  if (typeof toast.content !== "string") return undefined;
  return { type: typeof toast.type === "string" ? toast.type : "info", content: toast.content };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
