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

/** A gateway from the future: it answers `connect` the way openclaw 2026.9.6 answers a protocol it does not speak. */
async function futureGateway(): Promise<string> {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket) => {
    socket.send(
      JSON.stringify({
        type: "event",
        event: "connect.challenge",
        payload: { nonce: "n-1", ts: Date.now() },
      }),
    );
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { id: string };
      socket.send(
        JSON.stringify({
          type: "res",
          id: frame.id,
          ok: false,
          error: {
            code: "INVALID_REQUEST",
            message: "protocol mismatch",
            details: {
              code: "PROTOCOL_MISMATCH",
              clientMinProtocol: 4,
              clientMaxProtocol: 4,
              expectedProtocol: 5,
            },
          },
        }),
      );
      socket.close(1002, "protocol mismatch");
    });
  });
  await new Promise<void>((resolve) => server!.once("listening", () => resolve()));
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("protocol mismatch", () => {
  it("says which protocol each side speaks and what to upgrade", async () => {
    const { client } = await gatewayClient(await futureGateway());
    const error = await client.ready(5_000).catch((e: unknown) => e);
    expect(isClawbridgeError(error, "CB_GATEWAY_PROTOCOL_MISMATCH")).toBe(true);
    expect((error as Error).message).toBe(
      "node ai-pc: the gateway speaks protocol 5; clawbridge speaks protocol 4",
    );
    expect((error as { fix: string }).fix).toContain("upgrade OpenClaw on ai-pc");
    expect(client.health().state).toBe("protocol-mismatch");
  });
});

describe("a busy gateway", () => {
  it("says when to come back (retryAfterMs): the client waits at least that long", async () => {
    server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    const attempts: number[] = [];
    server.on("connection", (socket) => {
      attempts.push(Date.now());
      socket.send(
        JSON.stringify({
          type: "event",
          event: "connect.challenge",
          payload: { nonce: "n-1", ts: Date.now() },
        }),
      );
      socket.on("message", (data) => {
        const frame = JSON.parse(String(data)) as { id: string };
        socket.send(
          JSON.stringify({
            type: "res",
            id: frame.id,
            ok: false,
            error: {
              code: "UNAVAILABLE",
              message: "gateway is starting",
              retryable: true,
              retryAfterMs: 600,
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server!.once("listening", () => resolve()));
    const { client } = await gatewayClient(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    await waitFor(() => attempts.length >= 2, { what: "the second attempt" });
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(590);
    expect(client.health().lastError?.message).toContain("gateway is starting");
  });
});
