import fc from "fast-check";
import {
  badSignature,
  badToken,
  challengeAbuse,
  missingSignature,
  staleTimestamp,
} from "./webhook-auth-faults.js";
import { brokenCiphertext, malformedJson, wrongContentType, wrongRoute } from "./webhook-body-faults.js";
import type { BadRequestDraft } from "./webhook-request.js";

/** Every kind of refused webhook request, drawn at random within its kind. */
export const badWebhookRequest: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  { weight: 14, arbitrary: badSignature },
  { weight: 10, arbitrary: staleTimestamp },
  { weight: 6, arbitrary: missingSignature },
  { weight: 6, arbitrary: wrongContentType },
  { weight: 14, arbitrary: brokenCiphertext },
  { weight: 10, arbitrary: malformedJson },
  { weight: 6, arbitrary: badToken },
  { weight: 8, arbitrary: challengeAbuse },
  { weight: 4, arbitrary: wrongRoute },
);

/** Bodies over the cap, declared by Content-Length or streamed without one. */
export const oversizeRequest = (
  maxBytes: number,
): fc.Arbitrary<{ bytes: number; chunked: boolean; declaredOnly: boolean }> =>
  fc.record({
    bytes: fc.integer({ min: maxBytes + 1, max: maxBytes * 3 }),
    chunked: fc.boolean(),
    declaredOnly: fc.boolean(),
  });
