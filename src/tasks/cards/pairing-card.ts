import type { Locale } from "../../core/index.js";
import type { CardJson } from "../../feishu/index.js";
import { card, plainText, type CardElement } from "./card-parts.js";
import { clipHead } from "./clip-text.js";
import { taskCardsMessages as m } from "./messages.js";

/**
 * The one card per node that needs pairing: orange, with the approve command to run on
 * that computer (patched in place when the request id changes); green once connected. The
 * command is `plain_text` so it copies exactly; the port hint never carries a real token.
 */
export function pairingCard(
  node: string,
  pairing: { requestId: string; command: string } | undefined,
  state: "pairing" | "connected",
  locale: Locale,
): CardJson {
  const t = m.t(locale);
  if (state === "connected") {
    return card(t("connectedTitle", { node }), "green", [plainText(t("connectedText", { node }))]);
  }
  const elements: CardElement[] = [];
  if (pairing) {
    elements.push(plainText(t("runOn", { node })));
    elements.push(plainText(clipHead(pairing.command, 500), { color: "blue" }));
    elements.push(plainText(t("pairingPortHint"), { color: "grey", size: "notation" }));
    elements.push(plainText(t("pairingAuto"), { color: "grey", size: "notation" }));
  } else {
    elements.push(plainText(t("pairingWaiting", { node }), { color: "grey" }));
  }
  return card(t("pairingTitle", { node }), "orange", elements);
}
