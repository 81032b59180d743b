import { Router } from "@koa/router";
import type { Context, Middleware } from "koa";
import getRawBody from "raw-body";
import { isObject } from "./core.js";
import type { FeishuEmulator } from "./emulator.js";
import type { DeliveryResult, FaultSpec, MentionTarget } from "./types.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
/** How long `say`/`click` wait for the receiver's answer before answering "pending". */
const SETTLE_MS = 4000;

/**
 * `/_emulator/*`: drive the emulator with curl or the demo page (loopback callers only).
 *
 * - `POST /_emulator/say {chatId?, from, text, mentions?: string[]}` — `from` and mentions
 *   are names ("bridge" = the bridge bot); an unknown `from` becomes a new person. Answers
 *   once delivered: `{eventId, messageId, delivered}` (`delivered: {pending: true}` while
 *   the event waits for a receiver to connect).
 * - `POST /_emulator/click {messageId, operator, value}` — a card button press.
 * - `GET /_emulator/messages?chatId=`, `GET /_emulator/calls?path=`, `GET /_emulator/chats`
 * - `POST /_emulator/fault {…FaultSpec, pathRegex?}`, `DELETE /_emulator/faults`
 */
export function controlApi(emu: FeishuEmulator): Middleware {
  const router = new Router({ prefix: "/_emulator" });

  router.post("/say", async (ctx) => {
    const body = await jsonBody(ctx);
    if (!isObject(body) || typeof body.from !== "string" || typeof body.text !== "string") {
      return bad(ctx, "say needs {from, text}");
    }
    const from = emu.principal(body.from) ?? emu.addPerson({ name: body.from });
    const mentions: MentionTarget[] = [];
    for (const name of Array.isArray(body.mentions) ? body.mentions : []) {
      const who = name === "bridge" ? "bridge" : emu.principal(String(name));
      if (!who) return bad(ctx, `unknown mention ${String(name)}`);
      mentions.push(who);
    }
    const chatId = typeof body.chatId === "string" ? body.chatId : emu.defaultChat;
    if (!emu.chat(chatId)) return bad(ctx, `unknown chat ${chatId}`);
    const emitted = emu.say(chatId, from, body.text, { mentions });
    ctx.body = {
      eventId: emitted.eventId,
      messageId: emitted.messageId,
      delivered: await settled(emu, emitted.delivered),
    };
  });

  router.post("/click", async (ctx) => {
    const body = await jsonBody(ctx);
    if (!isObject(body) || typeof body.messageId !== "string" || typeof body.operator !== "string") {
      return bad(ctx, "click needs {messageId, operator, value}");
    }
    const operator = emu.principal(body.operator) ?? emu.addPerson({ name: body.operator });
    if (operator.kind !== "person") return bad(ctx, "the operator must be a person");
    if (!emu.message(body.messageId)) return bad(ctx, `unknown message ${body.messageId}`);
    const emitted = emu.clickCard(body.messageId, operator, body.value ?? {});
    ctx.body = { eventId: emitted.eventId, delivered: await settled(emu, emitted.delivered) };
  });

  router.get("/messages", (ctx) => {
    ctx.body = emu.messages(typeof ctx.query.chatId === "string" ? ctx.query.chatId : undefined);
  });
  router.get("/calls", (ctx) => {
    ctx.body = typeof ctx.query.path === "string" ? emu.callsTo(ctx.query.path) : emu.calls;
  });
  router.get("/chats", (ctx) => {
    ctx.body = emu.chats();
  });
  router.post("/fault", async (ctx) => {
    const body = await jsonBody(ctx);
    if (!isObject(body)) return bad(ctx, "fault needs a JSON object");
    const spec = { ...body } as FaultSpec & { pathRegex?: string };
    if (typeof body.pathRegex === "string") spec.path = new RegExp(body.pathRegex);
    delete spec.pathRegex;
    emu.fault(spec);
    ctx.body = { ok: true };
  });
  router.delete("/faults", (ctx) => {
    emu.clearFaults();
    ctx.body = { ok: true };
  });

  const routes = router.routes();
  return async (ctx, next) => {
    if (!ctx.path.startsWith("/_emulator/")) return next();
    if (!LOOPBACK.has(ctx.req.socket.remoteAddress ?? "")) {
      ctx.status = 403;
      ctx.body = { error: "loopback only" };
      return;
    }
    await routes(ctx as never, next);
  };
}

/** The delivery result, or `{pending: true}` while the event waits in a queue (no receiver). */
async function settled(
  emu: FeishuEmulator,
  delivered: Promise<DeliveryResult>,
): Promise<DeliveryResult | { pending: true }> {
  if (emu.queuedEvents() > 0) return { pending: true };
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<{ pending: true }>(
    (resolve) => (timer = setTimeout(() => resolve({ pending: true }), SETTLE_MS)),
  );
  try {
    return await Promise.race([delivered, wait]);
  } finally {
    clearTimeout(timer);
  }
}

async function jsonBody(ctx: Context): Promise<unknown> {
  const raw = await getRawBody(ctx.req, { limit: "1mb", encoding: "utf8" });
  try {
    return raw === "" ? {} : JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function bad(ctx: Context, error: string): void {
  ctx.status = 400;
  ctx.body = { error };
}
