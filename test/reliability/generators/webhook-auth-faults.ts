import fc from "fast-check";
import { encryptWebhookBody } from "../../../src/sim/feishu/index.js";
import {
  EVENTS_PATH,
  JSON_TYPE,
  newNonce,
  NONCE,
  post,
  ROUTES,
  SIGNATURE,
  signedBody,
  signedHeaders,
  TIMESTAMP,
  WINDOW_SECONDS,
  type BadRequest,
  type BadRequestDraft,
  type Genuine,
  type WebhookSecrets,
} from "./webhook-request.js";

/**
 * Requests that fail to prove they come from Feishu: signature, timestamp window (replays),
 * signature headers, verification token, and abuse of the unsigned URL check.
 */

const route = fc.constantFrom(...ROUTES);
const printable = (max: number) => fc.stringMatching(new RegExp(`^[!-~]{1,${max}}$`));
const otherKey = (s: WebhookSecrets) => (k: string) => k !== s.encryptKey;
export const badSignature: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  fc.tuple(route, fc.stringMatching(/^[0-9a-f]{64}$/)).map(([path, sig]): BadRequestDraft => (g) => ({
    kind: "signature: random hex",
    request: post(path, { ...g.headers, [SIGNATURE]: sig }, g.body),
    status: 401,
    reason: "bad_signature",
  })),
  printable(100).map((sig): BadRequestDraft => (g) => ({
    kind: "signature: random text",
    request: post(EVENTS_PATH, { ...g.headers, [SIGNATURE]: sig }, g.body),
    status: 401,
    reason: "bad_signature",
  })),
  fc
    .tuple(fc.nat(), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
    .map(([at, char]): BadRequestDraft => (g) => {
      // One character of the ciphertext changed; the signature is still the original's.
      const start = g.body.indexOf(":") + 2;
      const i = start + (at % (g.body.length - start - 4));
      const swapped = g.body[i] === char ? (char === "A" ? "B" : "A") : char;
      return {
        kind: "signature: body changed after signing",
        request: post(EVENTS_PATH, g.headers, g.body.slice(0, i) + swapped + g.body.slice(i + 1)),
        status: 401,
        reason: "bad_signature",
      };
    }),
  fc.string({ minLength: 1, maxLength: 40 }).map((key): BadRequestDraft => (g, s, now) => ({
    kind: "signature: signed with another key",
    request: post(
      EVENTS_PATH,
      signedHeaders(g.body, otherKey(s)(key) ? key : `${key}x`, String(now)),
      g.body,
    ),
    status: 401,
    reason: "bad_signature",
  })),
  fc
    .integer({ min: -WINDOW_SECONDS + 5, max: WINDOW_SECONDS - 5 })
    .filter((d) => d !== 0)
    .map((shift): BadRequestDraft => (g) => ({
      kind: "signature: timestamp changed after signing",
      request: post(
        EVENTS_PATH,
        { ...g.headers, [TIMESTAMP]: String(Number(g.headers[TIMESTAMP]) + shift) },
        g.body,
      ),
      status: 401,
      reason: "bad_signature",
    })),
  fc.constant((g: Genuine): BadRequest => ({
    kind: "signature: nonce changed after signing",
    request: post(EVENTS_PATH, { ...g.headers, [NONCE]: newNonce() }, g.body),
    status: 401,
    reason: "bad_signature",
  })),
);

export const staleTimestamp: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  fc
    .tuple(fc.integer({ min: WINDOW_SECONDS + 5, max: 1_000_000_000 }), fc.boolean())
    .map(([age, future]): BadRequestDraft => (g, s, now) => {
      // A captured push sent again later, re-signed by someone with the key: the window still holds.
      const timestamp = String(future ? now + age : Math.max(0, now - age));
      return {
        kind: future ? "timestamp: in the future" : "replay: after the time window",
        request: post(EVENTS_PATH, signedHeaders(g.body, s.encryptKey, timestamp, g.headers[NONCE]), g.body),
        status: 401,
        reason: "stale_timestamp",
      };
    }),
  fc.constant((g: Genuine, s: WebhookSecrets, now: number): BadRequest => ({
    kind: "timestamp: milliseconds",
    request: post(EVENTS_PATH, signedHeaders(g.body, s.encryptKey, String(now * 1000)), g.body),
    status: 401,
    reason: "stale_timestamp",
  })),
  printable(20)
    .filter((t) => !/^\d{1,12}$/.test(t))
    .map((timestamp): BadRequestDraft => (g, s) => ({
      kind: "timestamp: not a number",
      request: post(EVENTS_PATH, signedHeaders(g.body, s.encryptKey, timestamp), g.body),
      status: 401,
      reason: "stale_timestamp",
    })),
);

export const missingSignature: fc.Arbitrary<BadRequestDraft> = fc
  .subarray([SIGNATURE, TIMESTAMP, NONCE], { minLength: 1 })
  .chain((names) => fc.tuple(fc.constant(names), fc.boolean(), route))
  .map(([names, empty, path]): BadRequestDraft => (g) => {
    const headers: Record<string, string> = { ...g.headers };
    for (const name of names) {
      if (empty) headers[name] = "";
      else delete headers[name];
    }
    return {
      kind: "signature headers missing",
      request: post(path, headers, g.body),
      status: 401,
      reason: "missing_signature",
    };
  });

export const badToken: fc.Arbitrary<BadRequestDraft> = fc
  .oneof(fc.string({ maxLength: 60 }), fc.constant(undefined), fc.integer(), fc.constant(null))
  .map((token): BadRequestDraft => (g, s, now) => {
    const header = { ...(g.payload.header as Record<string, unknown>) };
    if (token === undefined) delete header.token;
    else header.token = token === s.verificationToken ? `${token}x` : token;
    const body = JSON.stringify({
      encrypt: encryptWebhookBody(s.encryptKey, JSON.stringify({ ...g.payload, header })),
    });
    return signedBody("token: wrong verification token", body, s, now, 403, "bad_token");
  });

/** Feishu's URL check is unsigned and checked by token alone: abuse of it must get nothing but a 4xx. */
export const challengeAbuse: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  fc
    .tuple(fc.string({ maxLength: 40 }), fc.boolean(), route)
    .map(([token, encrypted, path]): BadRequestDraft => (_g, s) => {
      const payload = {
        type: "url_verification",
        challenge: "c",
        token: token === s.verificationToken ? `${token}x` : token,
      };
      const body = JSON.stringify(
        encrypted ? { encrypt: encryptWebhookBody(s.encryptKey, JSON.stringify(payload)) } : payload,
      );
      return {
        kind: "challenge: wrong token",
        request: post(path, { "content-type": JSON_TYPE }, body),
        status: 403,
        reason: "bad_token",
      };
    }),
  fc
    .oneof(
      fc.constant(undefined),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.object({ maxDepth: 1 }),
    )
    .map((challenge): BadRequestDraft => (_g, s) => {
      const body = JSON.stringify({
        encrypt: encryptWebhookBody(
          s.encryptKey,
          JSON.stringify({ type: "url_verification", token: s.verificationToken, challenge }),
        ),
      });
      return {
        kind: "challenge: no string to echo",
        request: post(EVENTS_PATH, { "content-type": JSON_TYPE }, body),
        status: 400,
        reason: "malformed_json",
      };
    }),
  fc.string({ minLength: 1, maxLength: 40 }).map((key): BadRequestDraft => (_g, s) => {
    const plain = JSON.stringify({ type: "url_verification", token: s.verificationToken, challenge: "c" });
    const body = JSON.stringify({ encrypt: encryptWebhookBody(otherKey(s)(key) ? key : `${key}x`, plain) });
    return {
      kind: "challenge: encrypted with another key",
      request: post(EVENTS_PATH, { "content-type": JSON_TYPE }, body),
      status: 400,
      reason: "undecryptable",
    };
  }),
);
