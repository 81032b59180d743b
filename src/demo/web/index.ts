import Router from "@koa/router";
import type { MountedMiddleware } from "../../http/index.js";
import type { DemoWorld } from "../types.js";
import { demoApiErrors } from "./api-error.js";
import { registerApiRoutes } from "./api-routes.js";
import { LiveEvents } from "./live-events.js";
import { loopbackOnly } from "./request-guard.js";
import { registerStaticRoutes } from "./static-routes.js";
import { WorldDirectory } from "./world-directory.js";

/** The page's routes, plus what stops its live streams. */
export type DemoWebRoutes = MountedMiddleware & {
  /**
   * Ends every open event stream and stops watching: call it before stopping the bridge,
   * whose listener otherwise waits for those long-lived requests until its close timeout.
   */
  close(): Promise<void>;
  /** Pages following the group right now (each holds one event stream). */
  readonly liveListeners: number;
};

/**
 * The demo's web group chat, mounted on the bridge's own koa app: `GET /demo/` (the page and
 * its two assets) and the JSON API `/demo/api/*` (state, messages, card actions, shared
 * files, and the SSE stream `/demo/api/events`). Only loopback pages are answered.
 */
export function demoWebRoutes(world: DemoWorld): DemoWebRoutes {
  const dir = new WorldDirectory(world);
  const live = new LiveEvents(world, dir);
  const router = new Router({ prefix: "/demo", strict: true, sensitive: true });
  router.use(demoApiErrors(world.locale));
  router.use(loopbackOnly);
  registerStaticRoutes(router, world.locale);
  registerApiRoutes(router, world, dir, live);
  const routes = router.routes();
  const allowed = router.allowedMethods();
  // 405/501 with an Allow header for a known path asked with the wrong method.
  const middleware: MountedMiddleware = (ctx, next) => {
    // The page's relative world starts at `/demo/`; the bare `/demo` people type is sent there.
    if (ctx.path === "/demo" && (ctx.method === "GET" || ctx.method === "HEAD")) {
      ctx.status = 308;
      ctx.redirect("/demo/");
      return;
    }
    return routes(ctx, () => allowed(ctx as Parameters<typeof allowed>[0], next));
  };
  return Object.defineProperties(middleware, {
    close: { value: () => live.close() },
    liveListeners: { get: () => live.listeners },
  }) as DemoWebRoutes;
}

export type { MessageView, TextPart } from "./message-view.js";
export type { SharedFileInfo, SharedFileTail } from "./shared-files.js";
export { PAGE_CSP } from "./static-routes.js";
