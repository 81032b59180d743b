import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/index.js";
import type { Bot, FeishuEmulator } from "../sim/feishu/index.js";

/** What a node's bot heard: a person's group message that @mentions it. */
export interface Heard {
  chatId: string;
  messageId: string;
  /** The text without the `@_user_N` mention keys. */
  text: string;
}

/** One node's Feishu channel: its bot, and what its agent does with what the bot hears. */
export interface NodeChannel {
  node: string;
  bot: Bot;
  hear(heard: Heard): void;
}

export interface RunningChannels {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;

/**
 * Stands in for the OpenClaw Feishu channel of each node that has its own bot: in
 * production that channel, not clawbridge, hears a person who @mentions the node's bot
 * (SCENARIOS "person → node": clawbridge does not relay it). Here each node bot's app gets
 * its events by webhook from the emulator — only @mentions, as a bot without the
 * group-message scope does — and the node's scripted agent answers in its group session.
 * Loopback only; the bridge never sees this listener.
 */
export async function startNodeChannels(
  emulator: FeishuEmulator,
  channels: readonly NodeChannel[],
  logger: Logger,
): Promise<RunningChannels> {
  const log = logger.child({ component: "demo-node-channels" });
  const byPath = new Map(channels.map((channel) => [`/${channel.node}`, channel]));
  const tokens = new Map(channels.map((c) => [c.node, emulator.appInfo(c.bot.appId).verificationToken]));
  const server: Server = createServer((req, res) => {
    const channel = req.method === "POST" ? byPath.get(req.url ?? "") : undefined;
    if (!channel) {
      res.writeHead(404).end();
      return;
    }
    readBody(req)
      .then((body) => {
        // Answered at once, as Feishu wants; the agent's work happens after.
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
        const heard = heardOf(body, tokens.get(channel.node));
        if (heard) channel.hear(heard);
      })
      .catch((error: unknown) => {
        log.debug({ err: error, node: channel.node }, "a node channel event could not be read");
        if (!res.headersSent) res.writeHead(400).end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const channel of channels) {
    // Only @mentions by people, like a real node bot without im:message.group_msg and
    // without include_bot: other bots' messages are exactly what Feishu never delivers.
    emulator.setScopes({ groupMsg: false, includeBotAtMsg: false }, channel.bot.appId);
    emulator.useWebhook(channel.bot.appId, { eventsUrl: `${url}/${channel.node}` });
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    req.on("error", reject);
  });
}

/** A person's text message in a group, from an `im.message.receive_v1` push for this app. */
function heardOf(body: unknown, token: string | undefined): Heard | undefined {
  const push = body as {
    header?: { token?: string; event_type?: string };
    event?: {
      sender?: { sender_type?: string };
      message?: {
        chat_id?: string;
        message_id?: string;
        chat_type?: string;
        message_type?: string;
        content?: string;
      };
    };
  };
  if (push.header?.token !== token || push.header?.event_type !== "im.message.receive_v1") return undefined;
  const message = push.event?.message;
  if (push.event?.sender?.sender_type !== "user" || message?.chat_type !== "group") return undefined;
  if (message.message_type !== "text" || !message.chat_id || !message.message_id) return undefined;
  let text: unknown;
  try {
    text = (JSON.parse(message.content ?? "{}") as { text?: unknown }).text;
  } catch {
    return undefined;
  }
  if (typeof text !== "string") return undefined;
  return {
    chatId: message.chat_id,
    messageId: message.message_id,
    text: text
      .replace(/@_user_\d+/g, "")
      .replace(/\s+/g, " ")
      .trim(),
  };
}
