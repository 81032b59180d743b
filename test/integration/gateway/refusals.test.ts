import { WebSocketServer } from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { isClawbridgeError } from "../../../src/core/index.js";
import { gatewayClient } from "../../helpers/gateway.js";
import { waitFor } from "../../helpers/wait.js";

let server: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/**
 * A gateway that sends the challenge and refuses every `connect` with `error`, the way
 * openclaw 2026.9.6 shapes its refusals; `closeWith` also closes the socket with that code.
 */
async function refusingGateway(
  error: Record<string, unknown>,
  options: { closeWith?: number; onConnection?: () => void } = {},
) {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket) => {
    options.onConnection?.();
    socket.send(
      JSON.stringify({
        type: "event",
        event: "connect.challenge",
        payload: { nonce: "n-1", ts: Date.now() },
      }),
    );
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { id: string };
      socket.send(JSON.stringify({ type: "res", id: frame.id, ok: false, error }));
      if (options.closeWith) socket.close(options.closeWith, String(error.message));
    });
  });
  await new Promise<void>((resolve) => server!.once("listening", () => resolve()));
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("gateway refusals", () => {
  it("a protocol mismatch says which protocol each side speaks and what to upgrade", async () => {
    const url = await refusingGateway(
      {
        code: "INVALID_REQUEST",
        message: "protocol mismatch",
        details: {
          code: "PROTOCOL_MISMATCH",
          clientMinProtocol: 4,
          clientMaxProtocol: 4,
          expectedProtocol: 5,
        },
      },
      { closeWith: 1002 },
    );
    const { client } = await gatewayClient(url);
    const error = await client.ready(5_000).catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_PROTOCOL_MISMATCH")).toBe(true);
    expect((error as Error).message).toBe(
      "node ai-pc: the gateway speaks protocol 5; clawbridge speaks protocol 4",
    );
    expect((error as { fix: string }).fix).toContain("upgrade OpenClaw on ai-pc");
    expect(client.health().state).toBe("protocol-mismatch");
  });

  it("a busy gateway says when to come back (retryAfterMs): the client waits at least that long", async () => {
    const attempts: number[] = [];
    const url = await refusingGateway(
      { code: "UNAVAILABLE", message: "gateway is starting", retryable: true, retryAfterMs: 600 },
      { onConnection: () => attempts.push(Date.now()) },
    );
    const { client } = await gatewayClient(url);
    await waitFor(() => attempts.length >= 2, { what: "the second attempt" });
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(590);
    expect(client.health().lastError?.message).toContain("gateway is starting");
  });
});
