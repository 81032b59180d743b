import { describe, expect, it } from "vitest";
import { createLogger, REDACTED, SecretRegistry } from "../../../src/core/index.js";
import { logSink } from "../../helpers/log-sink.js";

// Made-up values shaped like the real ones; nothing here is a real credential.
const APP_SECRET = "fakeAppSecret0123456789abcdef";
const GATEWAY_TOKEN = "gw-token-5f3c9a1e7b2d4068";
const ENCRYPT_KEY = "encrypt-key-for-tests-only";
const TENANT_TOKEN = "t-g1044ffEXAMPLEtenantTOKEN";

function logger() {
  const sink = logSink();
  const secrets = new SecretRegistry();
  secrets.add(APP_SECRET);
  secrets.add(GATEWAY_TOKEN);
  secrets.add(ENCRYPT_KEY);
  const log = createLogger({ destination: sink.stream, secrets, level: "trace" });
  return { log, sink, secrets };
}

describe("logger redaction", () => {
  it("redacts secrets by path, at any depth, in child loggers too", () => {
    const { log, sink } = logger();
    const child = log.child({ node: "ai-pc" });
    child.info(
      { appSecret: "whatever-literal", feishu: { encryptKey: "x1", nested: { token: "abc" } } },
      "config",
    );
    child.info({ req: { headers: { authorization: "Bearer abcdefgh" } } }, "request");
    const [first, second] = sink.records();
    expect(first).toMatchObject({
      appSecret: REDACTED,
      feishu: { encryptKey: REDACTED, nested: { token: REDACTED } },
      node: "ai-pc",
    });
    expect(second).toMatchObject({ req: { headers: { authorization: REDACTED } } });
  });

  it("describes binary data instead of throwing on it (an HTTP parse error carries its raw packet)", () => {
    const { log, sink } = logger();
    const parseError = Object.assign(new Error("Parse Error: Invalid character in chunk size"), {
      code: "HPE_INVALID_CHUNK_SIZE",
      rawPacket: Buffer.from("0x zz\r\n"),
    });
    expect(() => log.debug({ err: parseError }, "http response error")).not.toThrow();
    expect(() =>
      log.warn({ body: Buffer.alloc(5), nested: [{ bytes: new Uint8Array(3) }] }, "binary"),
    ).not.toThrow();
    const [first, second] = sink.records();
    expect(first).toMatchObject({ err: { code: "HPE_INVALID_CHUNK_SIZE", rawPacket: "[binary 7 bytes]" } });
    expect(second).toMatchObject({ body: "[binary 5 bytes]", nested: [{ bytes: "[binary 3 bytes]" }] });
  });

  it("redacts known secret values wherever they hide: messages, URLs, errors, JSON strings", () => {
    const { log, sink } = logger();
    log.error(`connect ws://10.0.0.1:18789/?token=${GATEWAY_TOKEN} failed`);
    log.warn({ err: new Error(`request failed: {"app_secret":"${APP_SECRET}"}`) }, "sdk said");
    log.info({ body: JSON.stringify({ encrypt: ENCRYPT_KEY }) }, "dump");
    log.debug({ url: `https://open.feishu.cn/x?app_secret=${encodeURIComponent(APP_SECRET)}` }, "url");
    const text = sink.text();
    for (const secret of [APP_SECRET, GATEWAY_TOKEN, ENCRYPT_KEY]) expect(text).not.toContain(secret);
    expect(text).toContain(REDACTED);
    expect(sink.lines).toHaveLength(4);
  });

  it("redacts secret-shaped text it was never told about: bearer tokens and token= parameters", () => {
    const { log, sink } = logger();
    log.info(`Authorization: Bearer ${TENANT_TOKEN}`);
    log.info({ msg2: `GET /open-apis/x?access_token=${TENANT_TOKEN}&page=2` }, "call");
    log.info({ raw: `{"tenant_access_token":"${TENANT_TOKEN}","expire":7200}` }, "token response");
    expect(sink.text()).not.toContain(TENANT_TOKEN);
    expect(sink.text()).toContain("page=2");
  });

  it("secrets learned at run time are redacted from then on", () => {
    const { log, sink, secrets } = logger();
    const deviceToken = "device-token-learned-later-42";
    secrets.add(deviceToken);
    log.info({ note: `hello-ok gave ${deviceToken}` }, "paired");
    expect(sink.text()).not.toContain(deviceToken);
  });

  it("does not blank short or ordinary words", () => {
    const secrets = new SecretRegistry();
    secrets.add("abc");
    expect(secrets.scrub("abc abc")).toBe("abc abc");
  });
});
