import { randomBytes } from "node:crypto";
import { pino, type Logger } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { ClawbridgeError, createLogger, SecretRegistry } from "../../../src/core/index.js";
import { SdkFeishuApi, sdkLogger } from "../../../src/feishu/index.js";
import type { FeishuEmulator } from "../../../src/sim/feishu/index.js";
import { feishuEmulator } from "../../helpers/feishu.js";
import { logSink } from "../../helpers/log-sink.js";

// The SDK logs whole axios errors on failure: the token request body (app_secret) and the
// request headers (Authorization: Bearer t-…). Our adapter must turn them into useful,
// secret-free lines. Each scenario runs with three loggers: the app's pino logger with the
// secret registered (the bridge's setup), the same with an empty registry (so the adapter,
// not the registry, has to strip it), and bare pino without any redaction (the adapter alone).

const TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal";
const MESSAGES_PATH = "/open-apis/im/v1/messages";
const TOKEN_SHAPE = /\bt-[0-9a-f]{40}\b/;

type Variant = "registered" | "not registered" | "bare pino";
const VARIANTS: Variant[] = ["registered", "not registered", "bare pino"];

let emu: FeishuEmulator;

// Closed after each test by the helper.
beforeEach(async () => {
  emu = await feishuEmulator();
});

function makeLogger(variant: Variant, secret: string) {
  const sink = logSink();
  let logger: Logger;
  if (variant === "bare pino") {
    logger = pino({ level: "trace" }, sink.stream);
  } else {
    const secrets = new SecretRegistry();
    if (variant === "registered") secrets.add(secret);
    logger = createLogger({ destination: sink.stream, secrets, level: "trace" });
  }
  return { sink, logger };
}

function api(logger: Logger, appSecret = emu.bridge.appSecret): SdkFeishuApi {
  return new SdkFeishuApi({
    appId: emu.bridge.appId,
    appSecret,
    domain: emu.url,
    logger,
    timeoutMs: 5_000,
  });
}

/**
 * The bridge app's current tenant token, asked of the token endpoint as the SDK asks for it:
 * the emulator hands out the same token while it has more than 30 minutes left.
 */
async function currentToken(): Promise<string> {
  const res = await fetch(`${emu.url}${TOKEN_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ app_id: emu.bridge.appId, app_secret: emu.bridge.appSecret }),
  });
  const body = (await res.json()) as { code: number; tenant_access_token: string };
  expect(body.code).toBe(0);
  expect(body.tenant_access_token).toMatch(TOKEN_SHAPE);
  return body.tenant_access_token;
}

const text = (t: string) => JSON.stringify({ text: t });

/** Lines the adapter wrote at error level (pino level 50), as parsed records. */
function sdkErrors(sink: ReturnType<typeof logSink>): { msg: string }[] {
  return sink
    .records()
    .filter((r) => r.component === "feishu-sdk" && r.level === 50)
    .map((r) => ({ msg: String(r.msg) }));
}

function expectClean(logText: string, secrets: string[], tokens: string[]): void {
  for (const secret of secrets) expect(logText).not.toContain(secret);
  for (const token of tokens) {
    expect(logText).not.toContain(token);
    expect(logText).not.toContain(`Bearer ${token}`);
  }
  // No token-shaped text at all, and no bearer credential of any kind.
  expect(logText).not.toMatch(TOKEN_SHAPE);
  expect(logText).not.toMatch(/Bearer\s+(?!\[REDACTED\])\S/);
}

describe.each(VARIANTS)("SDK logger against the emulator (%s)", (variant) => {
  it("a wrong app secret: the token request fails, logged with its status and code, without the secret", async () => {
    const wrong = randomBytes(16).toString("hex");
    const { sink, logger } = makeLogger(variant, wrong);
    const error = await api(logger, wrong)
      .checkCredentials()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ClawbridgeError);
    expect(error).toMatchObject({ code: "CB_FEISHU_AUTH", details: { feishuCode: 10014, httpStatus: 400 } });
    // The SDK did send the wrong secret (the emulator logs the call with the body redacted).
    expect(emu.callsTo(TOKEN_PATH)).toMatchObject([{ status: 400, code: 10014 }]);

    const errors = sdkErrors(sink);
    expect(errors.length, sink.text()).toBeGreaterThan(0);
    const line = errors.map((e) => e.msg).join("\n");
    expect(line).toContain("status 400");
    expect(line).toContain("10014");
    expect(line).toContain(TOKEN_PATH);
    expectClean(sink.text(), [wrong, emu.bridge.appSecret], []);
  });

  it("a 500 on send message and on bot info after a good token: logged with the status, no token", async () => {
    const { sink, logger } = makeLogger(variant, emu.bridge.appSecret);
    const feishu = api(logger);
    await feishu.botInfo();
    const token = await currentToken();

    emu.fault({ method: "POST", path: MESSAGES_PATH, status: 500, msg: "internal error" });
    await expect(
      feishu.sendMessage({ chatId: emu.defaultChat, msgType: "text", content: text("hello"), uuid: "u-1" }),
    ).rejects.toMatchObject({ code: "CB_FEISHU_SERVER", details: { httpStatus: 500 } });
    // Bot info goes through `client.request`, whose failure the SDK logs as the raw axios
    // error: its config carries `headers.Authorization: Bearer t-…`.
    emu.fault({ method: "GET", path: "/open-apis/bot/v3/info", status: 500 });
    await expect(feishu.botInfo({ fresh: true })).rejects.toMatchObject({ code: "CB_FEISHU_SERVER" });
    expect(emu.calls.filter((c) => c.faulted)).toHaveLength(2);
    // No new token was needed: both calls carried the one the test collected.
    expect(emu.callsTo(TOKEN_PATH)).toHaveLength(2);

    const errors = sdkErrors(sink);
    expect(errors.length, sink.text()).toBeGreaterThanOrEqual(2);
    expect(errors.some((e) => e.msg.includes(MESSAGES_PATH) && e.msg.includes("500"))).toBe(true);
    expect(errors.some((e) => e.msg.includes("/open-apis/bot/v3/info") && e.msg.includes("status 500"))).toBe(
      true,
    );
    expectClean(sink.text(), [emu.bridge.appSecret], [token]);
  });

  it("99991663 after revokeTokens: retried once with a fresh token and sent; neither token logged", async () => {
    const { sink, logger } = makeLogger(variant, emu.bridge.appSecret);
    const feishu = api(logger);
    await feishu.sendMessage({
      chatId: emu.defaultChat,
      msgType: "text",
      content: text("first"),
      uuid: "u-1",
    });
    const before = await currentToken();
    const tokenCalls = emu.callsTo(TOKEN_PATH).length;

    emu.revokeTokens();
    const sent = await feishu.sendMessage({
      chatId: emu.defaultChat,
      msgType: "text",
      content: text("after revoke"),
      uuid: "u-2",
    });
    expect(sent.messageId).toMatch(/^om_/);
    expect(emu.messages(emu.defaultChat).map((m) => m.text)).toEqual(["first", "after revoke"]);
    // Exactly one new token request, between the refused attempt and the retry.
    expect(emu.callsTo(TOKEN_PATH)).toHaveLength(tokenCalls + 1);
    expect(emu.callsTo(MESSAGES_PATH).map((c) => c.code)).toEqual([0, 99991663, 0]);
    const after = await currentToken();
    expect(after).not.toBe(before);

    const errors = sdkErrors(sink);
    expect(errors.length, sink.text()).toBeGreaterThan(0);
    expect(errors.some((e) => e.msg.includes("99991663"))).toBe(true);
    expectClean(sink.text(), [emu.bridge.appSecret], [before, after]);
  });
});

describe("sdkLogger on its own", () => {
  it("hides the long-connection ticket the SDK logs at debug", () => {
    const sink = logSink();
    const ticket = randomBytes(12).toString("hex");
    const log = sdkLogger(createLogger({ destination: sink.stream, level: "trace" }));
    log.debug(
      "[ws]",
      `get connect config success, ws url: wss://msg-frontier.feishu.cn/ws/v2?fpid=493&device_id=7&access_key=${ticket}a&service_id=33554678&ticket=${ticket}`,
    );
    expect(sink.text()).toContain("ticket=[REDACTED]");
    expect(sink.text()).not.toContain(ticket);
  });

  const secret = randomBytes(16).toString("hex");
  const token = `t-${randomBytes(20).toString("hex")}`;
  const url = "https://open.feishu.cn/open-apis/auth/v3/tenant_access_token/internal";

  function axiosLike(data: unknown): Error {
    return Object.assign(new Error("Request failed with status code 400"), {
      name: "AxiosError",
      code: "ERR_BAD_REQUEST",
      config: {
        method: "post",
        url,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        data,
      },
      request: { path: "/open-apis/auth/v3/tenant_access_token/internal", _header: `Bearer ${token}` },
      response: { status: 400, data: { code: 10014, msg: "app secret invalid" } },
    });
  }

  const bodies: [string, unknown][] = [
    ["an object body", { app_id: "cli_0123456789abcdef", app_secret: secret }],
    ["a JSON string body", JSON.stringify({ app_id: "cli_0123456789abcdef", app_secret: secret })],
  ];

  it.each(bodies)(
    "an axios-like error with %s: message, request and status kept; Authorization and app_secret gone",
    (_what, data) => {
      for (const variant of VARIANTS) {
        const { sink, logger } = makeLogger(variant, secret);
        sdkLogger(logger).error(axiosLike(data));
        // As the SDK's LoggerProxy calls it: the arguments wrapped in an array.
        sdkLogger(logger).error([axiosLike(data)]);
        const records = sink.records();
        expect(records, variant).toHaveLength(2);
        for (const record of records) {
          expect(record).toMatchObject({ component: "feishu-sdk", level: 50 });
          expect(record.msg).toContain("Request failed with status code 400");
          expect(record.msg).toContain(`POST ${url}`);
          expect(record.msg).toContain("status 400");
          expect(record.msg).toContain("10014");
        }
        expectClean(sink.text(), [secret], [token]);
      }
    },
  );

  it.each(bodies)(
    "a plain dump of a request config with %s (as formatErrors makes it): secrets gone",
    (_what, data) => {
      for (const variant of VARIANTS) {
        const { sink, logger } = makeLogger(variant, secret);
        sdkLogger(logger).error([
          {
            message: "Request failed with status code 500",
            config: { data, url, method: "post", headers: { Authorization: `Bearer ${token}` } },
            request: { host: "open.feishu.cn", path: "/x" },
            response: { data: { code: 1, msg: "internal error" }, status: 500 },
          },
          { code: 1, msg: "internal error" },
        ]);
        sdkLogger(logger).warn(`retrying with Authorization: Bearer ${token}`);
        sdkLogger(logger).debug(`GET ${url}?app_secret=${secret}&x=1`);
        const [dump, retry, get] = sink.records().map((r) => String(r.msg));
        expect(dump, variant).toContain('"status":500');
        expect(dump).toContain('"msg":"internal error"');
        expect(retry).toBe("retrying with Authorization: Bearer [REDACTED]");
        expect(get).toContain(`${url}?app_secret=[REDACTED]&x=1`);
        expectClean(sink.text(), [secret], [token]);
      }
    },
  );
});
