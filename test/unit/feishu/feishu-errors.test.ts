import { describe, expect, it } from "vitest";
import { classifyFeishuBody, classifyFeishuError } from "../../../src/feishu/feishu-errors.js";
import { isClawbridgeError } from "../../../src/core/index.js";

const axiosLike = (status: number, data: unknown, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`Request failed with status code ${status}`), {
    response: { status, data, headers },
  });

describe("classifyFeishuError", () => {
  it("reads 429 and its reset header as a wait", () => {
    const e = classifyFeishuError(
      axiosLike(
        429,
        { code: 99991400, msg: "request trigger frequency limit" },
        {
          "x-ogw-ratelimit-limit": "50",
          "x-ogw-ratelimit-reset": "3",
        },
      ),
      "send message",
    );
    expect(e.code).toBe("CB_FEISHU_RATE_LIMITED");
    expect(e.retryAfterMs).toBe(3000);
    expect(e.details).toMatchObject({ scope: "app", feishuCode: 99991400, limit: "50" });
  });

  it("reads the per-chat limit code as a short wait for that chat", () => {
    const e = classifyFeishuError(axiosLike(400, { code: 230020, msg: "frequency limit" }), "send message");
    expect(e.code).toBe("CB_FEISHU_RATE_LIMITED");
    expect(isClawbridgeError(e, "CB_FEISHU_RATE_LIMITED") && e.details.scope).toBe("chat");
    expect(e.retryAfterMs).toBeGreaterThan(0);
  });

  it("separates server errors, network errors, auth and rejections", () => {
    expect(classifyFeishuError(axiosLike(503, "upstream"), "x").code).toBe("CB_FEISHU_SERVER");
    expect(
      classifyFeishuError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "x")
        .code,
    ).toBe("CB_FEISHU_NETWORK");
    expect(classifyFeishuError(axiosLike(400, { code: 99991663, msg: "invalid token" }), "x").code).toBe(
      "CB_FEISHU_AUTH",
    );
    const rejected = classifyFeishuError(
      axiosLike(400, { code: 230099, msg: "Failed to create card content" }),
      "x",
    );
    expect(rejected.code).toBe("CB_FEISHU_REJECTED");
    expect(rejected.retryable).toBe(false);
    expect(rejected.message).toContain("230099");
  });

  it("reads the SDK's token refusal text", () => {
    const e = classifyFeishuError(
      new Error("failed to get tenant_access_token, code: 10014, msg: app secret invalid"),
      "token",
    );
    expect(e.code).toBe("CB_FEISHU_AUTH");
    expect(e.fix).toMatch(/feishu\.appSecret/);
  });

  it("treats a 200 with a non-zero code as an answer, and code 0 as success", () => {
    expect(classifyFeishuBody({ code: 0, msg: "ok" }, "x")).toBeUndefined();
    expect(classifyFeishuBody({ code: 230002, msg: "bot not in chat" }, "x")?.code).toBe(
      "CB_FEISHU_REJECTED",
    );
  });
});
