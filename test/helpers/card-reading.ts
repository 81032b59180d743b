import type { EmulatedMessage } from "../../src/sim/feishu/index.js";

/** Every piece of text on a card (header, plain text, markdown, buttons), one per line. */
export function cardText(content: unknown): string {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "content" && typeof inner === "string") parts.push(inner);
        else walk(inner);
      }
    }
  };
  walk(content);
  // Markdown elements escape what they quote (`ai&#45;pc`): read them as a person would.
  return parts.join("\n").replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/** The card's header title. */
export function cardTitle(card: Pick<EmulatedMessage, "content"> | undefined): string {
  const content = card?.content as { header?: { title?: { content?: string } } } | undefined;
  return content?.header?.title?.content ?? "";
}

/** Every callback button value on a card (Feishu 2.0: `behaviors: [{type: "callback", value}]`). */
export function buttonValues(content: unknown): Record<string, unknown>[] {
  const values: Record<string, unknown>[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (record.tag === "button" && Array.isArray(record.behaviors)) {
        for (const behavior of record.behaviors as Record<string, unknown>[]) {
          if (behavior.type === "callback") values.push(behavior.value as Record<string, unknown>);
        }
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(content);
  return values;
}
