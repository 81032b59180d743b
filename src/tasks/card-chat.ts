import type {
  CardJson,
  OutboundPatchOptions,
  OutboundSendRequest,
  OutboundSendResult,
} from "../feishu/index.js";

/** What tasks need of the Feishu outbound queue: send a card, patch it (coalesced, paced). */
export interface CardChat {
  send(request: OutboundSendRequest): Promise<OutboundSendResult>;
  patch(messageId: string, card: CardJson, options?: OutboundPatchOptions): Promise<void>;
}
