import fc from "fast-check";
import { encryptWebhookBody } from "../../../src/sim/feishu/index.js";
import {
  EVENTS_PATH,
  post,
  ROUTES,
  signedHeaders,
  type RawRequest,
  type WebhookSecrets,
} from "./webhook-request.js";

/**
 * Authentic pushes (right key, signature, token) whose event makes no sense: any event type,
 * any event body. The edge must take them (a 4xx would make Feishu send them again for a
 * day); the intake then drops them as unreadable or ignored — never a 5xx, never a run.
 */
export const senselessEvent: fc.Arbitrary<
  (s: WebhookSecrets, now: number) => { kind: string; request: RawRequest }
> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom("im.message.receive_v1", "card.action.trigger", "im.chat.member.bot.added_v1"),
      fc.string({ maxLength: 30 }),
    ),
    fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ message: fc.jsonValue({ maxDepth: 3 }), sender: fc.jsonValue({ maxDepth: 3 }) }),
    ),
    fc.uuid(),
    fc.constantFrom(...ROUTES),
  )
  .map(([eventType, event, id, path]) => (s: WebhookSecrets, now: number) => {
    const payload = {
      schema: "2.0",
      header: {
        event_id: `senseless-${id}`,
        event_type: eventType,
        create_time: String(now * 1000),
        token: s.verificationToken,
      },
      event,
    };
    const body = JSON.stringify({ encrypt: encryptWebhookBody(s.encryptKey, JSON.stringify(payload)) });
    return {
      kind: `authentic, senseless ${eventType}`,
      request: post(path ?? EVENTS_PATH, signedHeaders(body, s.encryptKey, String(now)), body),
    };
  });
