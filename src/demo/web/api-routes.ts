import type Router from "@koa/router";
import type { DemoWorld } from "../types.js";
import { DemoApiError } from "./api-error.js";
import { cardActionSchema, messagesQuerySchema, postMessageSchema, tailQuerySchema } from "./api-schemas.js";
import { pressCard } from "./card-press.js";
import { parseInput, readJsonBody } from "./json-body.js";
import type { LiveEvents } from "./live-events.js";
import { messageView } from "./message-view.js";
import { listSharedFiles, tailSharedFile } from "./shared-files.js";
import { typedMentions } from "./typed-mentions.js";
import type { WorldDirectory } from "./world-directory.js";

/** The state a page starts from: who is in the group, what can be mentioned, the language. */
export function worldState(world: DemoWorld, dir: WorldDirectory) {
  const chat = world.emulator.chat(world.chatId);
  return {
    locale: world.locale,
    chat: { id: world.chatId, name: chat?.name ?? "", members: chat?.members.length ?? 0 },
    visitor: { name: world.visitor.name },
    bridge: { name: world.bridgeBot.name },
    nodes: world.nodes.map((node) => ({
      name: node.name,
      ...(node.displayName !== undefined ? { displayName: node.displayName } : {}),
      tags: node.tags,
      kind: node.kind,
      ...(node.bot ? { bot: node.bot.name } : {}),
    })),
    mentionables: dir.mentionables,
    /** open_id (as the bridge sees it) → name, for `<at id=…>` in card markdown. */
    names: dir.names,
    sharedDir: world.sharedDir,
  };
}

/** `GET/POST /demo/api/*` on `router` (already prefixed with `/demo`). */
export function registerApiRoutes(
  router: Router,
  world: DemoWorld,
  dir: WorldDirectory,
  live: LiveEvents,
): void {
  router.get("/api/state", (ctx) => {
    ctx.set("Cache-Control", "no-store");
    ctx.body = worldState(world, dir);
  });

  router.get("/api/messages", (ctx) => {
    const { limit } = parseInput(messagesQuerySchema, ctx.query);
    const all = world.emulator.messages(world.chatId);
    ctx.set("Cache-Control", "no-store");
    ctx.body = { total: all.length, messages: all.slice(-limit).map((m) => messageView(m, dir)) };
  });

  router.post("/api/messages", async (ctx) => {
    const body = await readJsonBody(ctx, postMessageSchema);
    for (const id of body.mentions ?? []) {
      if (!dir.botFor(id)) {
        const known = dir.mentionables.map((m) => m.id).join(", ");
        throw new DemoApiError(400, "invalid", { issues: `mentions: unknown "${id}" (known: ${known})` });
      }
    }
    const typed = typedMentions(body.text, dir.mentionables, body.mentions);
    if (typed.text === "" && typed.mentions.length === 0) throw new DemoApiError(400, "emptyMessage");
    const mentions = typed.mentions.map((id) => dir.botFor(id)!);
    const emitted = world.emulator.say(world.chatId, world.visitor, typed.text, { mentions });
    // The event is on its way to the bridge; the page sees the message at once (and by SSE).
    emitted.delivered.catch(() => undefined);
    ctx.status = 201;
    ctx.body = { message: messageView(world.emulator.message(emitted.messageId)!, dir) };
  });

  router.post("/api/actions", async (ctx) => {
    const action = await readJsonBody(ctx, cardActionSchema);
    ctx.body = { ok: true, ...(await pressCard(world, action)) };
  });

  router.get("/api/files", async (ctx) => {
    ctx.set("Cache-Control", "no-store");
    ctx.body = { root: world.sharedDir, files: await listSharedFiles(world.sharedDir) };
  });

  router.get("/api/files/tail", async (ctx) => {
    const query = parseInput(tailQuerySchema, ctx.query);
    const tail = await tailSharedFile(world.sharedDir, query.path, query.lines);
    if (!tail) throw new DemoApiError(404, "unknownFile", { path: query.path });
    ctx.set("Cache-Control", "no-store");
    ctx.body = tail;
  });

  router.get("/api/events", async (ctx) => live.open(ctx));
}
