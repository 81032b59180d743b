import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../src/sim/feishu/crypto.js";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { sleep, waitFor } from "../helpers/wait.js";

// One focused case (bad-input-webhook.test.ts fuzzes stale timestamps among other faults): a
// genuine push captured on the wire and sent again, re-signed by someone holding the key but
// with the time it was captured, is refused once that is outside the 5-minute window.

const ENCRYPT_KEY = "replay-test-encrypt-key-not-real";
const WINDOW_S = 5 * 60;

interface Captured {
  headers: Record<string, string>;
  body: string;
}

/** A listener standing in for the bridge: keeps what Feishu pushes, answers 200. */
async function wiretap() {
  const captured: Captured[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      captured.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, captured, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe("webhook replays", () => {
  it("a captured push re-sent with its timestamp more than 5 minutes off is refused (401) and not handled", async () => {
    const world = await bridgeWorld({
      configure: (config) => {
        Object.assign(config.feishu, {
          mode: "webhook",
          encryptKey: "${FEISHU_ENCRYPT_KEY}",
          verificationToken: "${FEISHU_VERIFICATION_TOKEN}",
        });
      },
    });
    world.env.FEISHU_ENCRYPT_KEY = ENCRYPT_KEY;
    world.env.FEISHU_VERIFICATION_TOKEN = world.emu.bridge.verificationToken;
    const { bridge } = await startWorldBridge(world);

    // Feishu pushes a /tell; it is caught on the way, never reaching the bridge.
    const tap = await wiretap();
    world.emu.useWebhook({
      eventsUrl: `${tap.url}/feishu/events`,
      encryptKey: ENCRYPT_KEY,
      verificationToken: world.emu.bridge.verificationToken,
    });
    await world.emu.say(world.emu.defaultChat, world.wang, "/tell ai-pc replayed words", {
      mentions: ["bridge"],
    }).delivered;
    const push = await waitFor(() => tap.captured[0], { what: "the captured push" });
    await tap.close();

    const send = (timestamp: number) => {
      const seconds = String(timestamp);
      const nonce = push.headers["x-lark-request-nonce"]!;
      return fetch(`${bridge.url}/feishu/events`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-lark-request-timestamp": seconds,
          "x-lark-request-nonce": nonce,
          "x-lark-signature": signWebhook(seconds, nonce, ENCRYPT_KEY, push.body),
        },
        body: push.body,
      });
    };
    const now = Math.floor(Date.now() / 1000);
    const relayed = () => world.gateways["ai-pc"].runs().filter((r) => r.message.includes("replayed words"));

    // Captured 6 minutes ago, or dated 6 minutes ahead: refused, and nothing happens.
    expect((await send(now - WINDOW_S - 60)).status).toBe(401);
    expect((await send(now + WINDOW_S + 60)).status).toBe(401);
    await sleep(500);
    expect(relayed()).toEqual([]);
    expect(
      await bridge.metrics.value("clawbridge_webhook_rejected_total", { reason: "stale_timestamp" }),
    ).toBe(2);

    // The very same bytes within the window: accepted and handled — the time was the reason.
    expect((await send(now)).status).toBe(200);
    await waitFor(() => relayed().length === 1, { what: "the fresh push handled" });
  });
});
