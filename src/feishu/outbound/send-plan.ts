import type { FeishuMsgType } from "../api.js";
import type { OutboundContent } from "../types.js";
import { cardContent } from "./card-json.js";
import type { OutboundLimits, TruncationNotice } from "./options.js";
import { payloadBytes } from "./payload-bytes.js";
import { textFallbackUuid } from "./send-uuid.js";
import { fitText } from "./truncate-text.js";

/** One message as it goes to Feishu. */
export interface PlannedMessage {
  msgType: FeishuMsgType;
  content: string;
  uuid: string;
  truncated: boolean;
  /** The caller asked for a card; this is its fallback text. */
  fellBackToText: boolean;
}

/** What to send first, and what to send if Feishu rejects that card. */
export interface SendPlan {
  first: PlannedMessage;
  /** Only for a card that went out as a card. */
  ifCardRejected?: PlannedMessage;
  /** Why `first` is not what was asked for (for the log). */
  note?: "card-too-large";
}

export interface PlanContext {
  limits: Pick<OutboundLimits, "textMaxBytes" | "cardMaxBytes">;
  truncationNotice: TruncationNotice;
  fullOutputRef?: string;
}

/**
 * Turns what the caller asked for into the message(s) Feishu gets: text cut to
 * `textMaxBytes`; a card with `update_multi` forced and its fallback text prepared under a
 * derived uuid; a card over `cardMaxBytes` replaced at once by its fallback text plus the
 * truncation notice (a card cannot be cut meaningfully, a text can).
 */
export function planSend(content: OutboundContent, uuid: string, context: PlanContext): SendPlan {
  if (content.kind === "text") return { first: textMessage(content.text, uuid, context, "text") };
  const fallbackUuid = textFallbackUuid(uuid);
  const card = cardContent(content.card);
  if (payloadBytes(card) > context.limits.cardMaxBytes) {
    return {
      first: textMessage(content.fallbackText, fallbackUuid, context, "large-card"),
      note: "card-too-large",
    };
  }
  return {
    first: { msgType: "interactive", content: card, uuid, truncated: false, fellBackToText: false },
    ifCardRejected: textMessage(content.fallbackText, fallbackUuid, context, "rejected-card"),
  };
}

/** `text`: the caller's text; otherwise a card's fallback text, standing in for a card that was… */
type TextRole = "text" | "large-card" | "rejected-card";

function textMessage(text: string, uuid: string, context: PlanContext, role: TextRole): PlannedMessage {
  const fitted = fitText(text, {
    maxBytes: context.limits.textMaxBytes,
    notice: context.truncationNotice(context.fullOutputRef),
    // The card held more than its fallback text says: point to the full output.
    alwaysNotice: role === "large-card",
  });
  return {
    msgType: "text",
    content: JSON.stringify({ text: fitted.text }),
    uuid,
    truncated: fitted.truncated,
    fellBackToText: role !== "text",
  };
}
