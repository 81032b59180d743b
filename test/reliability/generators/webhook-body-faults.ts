import fc from "fast-check";
import { encryptWebhookBody } from "../../../src/sim/feishu/index.js";
import {
  EVENTS_PATH,
  JSON_TYPE,
  post,
  ROUTES,
  signedBody,
  signedHeaders,
  type BadRequestDraft,
  type WebhookSecrets,
} from "./webhook-request.js";

/**
 * Requests whose transport or content is wrong, however well signed: content type and
 * encoding, ciphertext, JSON, method and path.
 */

const route = fc.constantFrom(...ROUTES);
const otherKey = (s: WebhookSecrets) => (k: string) => k !== s.encryptKey;

export const wrongContentType: fc.Arbitrary<BadRequestDraft> = fc
  .oneof(
    fc
      .constantFrom(
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json-patch+json",
        "application/xml",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "",
      )
      .map((type) => ({ type: type as string | undefined, encoding: undefined as string | undefined })),
    fc.constant({ type: undefined, encoding: undefined }),
    fc
      .constantFrom("gzip", "deflate", "br")
      .map((encoding) => ({ type: JSON_TYPE as string | undefined, encoding })),
  )
  .map(({ type, encoding }): BadRequestDraft => (g) => {
    const headers: Record<string, string> = { ...g.headers };
    if (type === undefined) delete headers["content-type"];
    else headers["content-type"] = type;
    if (encoding) headers["content-encoding"] = encoding;
    return {
      kind: `content type: ${type === undefined ? "none" : type || "empty"}${encoding ? ` + ${encoding}` : ""}`,
      request: post(EVENTS_PATH, headers, g.body),
      status: 415,
      reason: "unsupported_media_type",
    };
  });

export const brokenCiphertext: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  fc.string({ maxLength: 200 }).map(
    (junk): BadRequestDraft =>
      (_g, s, now) =>
        signedBody(
          "encryption: not base64 / junk",
          JSON.stringify({ encrypt: junk }),
          s,
          now,
          400,
          "undecryptable",
        ),
  ),
  fc.string({ minLength: 1, maxLength: 40 }).map((key): BadRequestDraft => (g, s, now) => {
    const wrong = otherKey(s)(key) ? key : `${key}x`;
    const body = JSON.stringify({ encrypt: encryptWebhookBody(wrong, JSON.stringify(g.payload)) });
    return signedBody("encryption: another key", body, s, now, 400, "undecryptable");
  }),
  fc.nat().map((cut): BadRequestDraft => (g, s, now) => {
    const data = Buffer.from(JSON.parse(g.body).encrypt as string, "base64");
    const kept = data.subarray(0, cut % data.length);
    return signedBody(
      "encryption: truncated ciphertext",
      JSON.stringify({ encrypt: kept.toString("base64") }),
      s,
      now,
      400,
      "undecryptable",
    );
  }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((block): BadRequestDraft => (g, s, now) => {
    // The last block replaced: its padding, and the closing braces inside it, are gone.
    const data = Buffer.from(JSON.parse(g.body).encrypt as string, "base64");
    const broken = Buffer.concat([data.subarray(0, data.length - 16), Buffer.from(block)]);
    return signedBody(
      "encryption: bad padding",
      JSON.stringify({ encrypt: broken.toString("base64") }),
      s,
      now,
      400,
      "undecryptable",
    );
  }),
  fc.constantFrom("not json at all", "[1,2,3]", '"just a string"', "null", "").map(
    (plain): BadRequestDraft =>
      (_g, s, now) =>
        signedBody(
          "encryption: plaintext is no JSON object",
          JSON.stringify({ encrypt: encryptWebhookBody(s.encryptKey, plain) }),
          s,
          now,
          400,
          "undecryptable",
        ),
  ),
  fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.boolean()).map(
    (value): BadRequestDraft =>
      (_g, s, now) =>
        signedBody(
          "encryption: encrypt is no string",
          JSON.stringify({ encrypt: value }),
          s,
          now,
          400,
          "malformed_json",
        ),
  ),
);

/** Anything that does not parse as one JSON object in UTF-8 (the platform's JSON.parse says which). */
const notAJsonObject = fc
  .oneof(
    fc.string({ maxLength: 200 }).map((text) => Buffer.from(text, "utf8")),
    fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value) ?? "null", "utf8")),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(Buffer.from('{"encrypt":"abc"')),
    fc.constant(Buffer.of(0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d)), // {"a":"<bad UTF-8>"}
  )
  .filter((bytes) => {
    try {
      const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      return typeof value !== "object" || value === null || Array.isArray(value);
    } catch {
      return true;
    }
  });

export const malformedJson: fc.Arbitrary<BadRequestDraft> = fc
  .tuple(notAJsonObject, route, fc.boolean())
  .map(([body, path, signed]): BadRequestDraft => (_g, s, now) => ({
    kind: "body: no JSON object",
    request: post(
      path,
      signed
        ? signedHeaders(body.toString("latin1"), s.encryptKey, String(now))
        : { "content-type": JSON_TYPE },
      body,
    ),
    status: 400,
    reason: "malformed_json",
  }));

/** Requests no webhook route takes: other methods (405) and near-miss paths (404, not a webhook refusal). */
export const wrongRoute: fc.Arbitrary<BadRequestDraft> = fc.oneof(
  fc
    .tuple(fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), route)
    .map(([method, path]): BadRequestDraft => (g) => ({
      kind: `method: ${method}`,
      request: { ...post(path, g.headers, method === "GET" || method === "HEAD" ? "" : g.body), method },
      status: 405,
      reason: "method_not_allowed",
    })),
  fc
    .constantFrom("/feishu/events/", "/Feishu/events", "/feishu/event", "/feishu//events", "/feishu/cards/x")
    .map((path): BadRequestDraft => (g) => ({
      kind: "path: near miss",
      request: post(path, g.headers, g.body),
      status: 404,
    })),
);
