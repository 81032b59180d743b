import { describe, expect, it } from "vitest";
import { gatewayMessages } from "../../../src/gateway/index.js";
import {
  authError,
  gatewayError,
  pairingError,
  protocolMismatchError,
} from "../../../src/gateway/gateway-errors.js";
import { handshakeTimeoutError, unreachableError } from "../../../src/gateway/link-errors.js";
import { runLostError } from "../../../src/gateway/run-errors.js";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("gateway text in en and zh-CN", () => {
  it("every key has both languages with the same placeholders", () => {
    const { en, "zh-CN": zh } = gatewayMessages.catalog;
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(zh[key], key).toBeTruthy();
      expect(placeholders(zh[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it("a pairing refusal renders in either language, the command unchanged", () => {
    const error = pairingError("ai-pc", "ws://10.0.0.5:18789", "3f2a");
    expect(error.render("en")).toEqual({
      message: "node ai-pc: pairing required — this bridge's device is not approved yet",
      fix: "run `openclaw devices approve 3f2a` on ai-pc's computer; clawbridge connects by itself once it is approved",
    });
    expect(error.render("zh-CN")).toEqual({
      message: "节点 ai-pc：需要配对——本桥的设备尚未获批准",
      fix: "在 ai-pc 的电脑上运行 `openclaw devices approve 3f2a`；批准后 clawbridge 会自动连接",
    });
    expect(error.text.key).toBe("gateway.pairingRequired");
  });

  it("a refused token names the variable in the reader's language, never the token", () => {
    const error = authError("ai-pc", { code: "AUTH_TOKEN_MISMATCH", missing: false }, "AI_PC_TOKEN", false);
    expect(error.message).toBe("node ai-pc: the gateway refused the token (gateway token mismatch)");
    expect(error.fix).toContain(
      "set the environment variable AI_PC_TOKEN to that gateway's gateway.auth.token",
    );
    expect(error.render("zh-CN").fix).toContain("把 环境变量 AI_PC_TOKEN 设为该网关的 gateway.auth.token");
  });

  it("an unreachable node quotes the last failure's reason in the same language", () => {
    const error = unreachableError("ai-pc", "ws://10.0.0.5:18789", 3_000, handshakeTimeoutError("ai-pc"));
    expect(error.message).toBe(
      "node ai-pc: no connection to ws://10.0.0.5:18789 after 3000 ms (the gateway did not complete the handshake in time)",
    );
    expect(error.render("zh-CN").message).toBe(
      "节点 ai-pc：3000 毫秒内未能连接 ws://10.0.0.5:18789（网关没有按时完成握手）",
    );
    expect(error.details.reason).toBe("the gateway did not complete the handshake in time");
    expect(error.details.reasonText?.render("zh-CN")).toBe("网关没有按时完成握手");
    expect(error.render("zh-CN").fix).toContain("确认 ai-pc 上的网关在运行");
  });

  it("the gateway's own words stay as it wrote them; ours are translated around them", () => {
    const error = gatewayError(
      "ai-pc",
      { code: "UNAVAILABLE", message: "gateway is starting" },
      { method: "health" },
    );
    expect(error.render("zh-CN").message).toBe("节点 ai-pc：health 失败：UNAVAILABLE：gateway is starting");
    expect(protocolMismatchError("ai-pc", 5).render("zh-CN").message).toBe(
      "节点 ai-pc：网关使用协议 5；clawbridge 使用协议 4",
    );
    expect(runLostError("ai-pc", "r-1").render("zh-CN")).toEqual({
      message: "节点 ai-pc：网关已不知道运行 r-1（运行期间网关重启了）",
      fix: "重新运行该任务",
    });
  });
});
