import { createHash } from "node:crypto";
import type Router from "@koa/router";
import type { Context } from "koa";
import type { Locale } from "../../core/index.js";
import { clientScript } from "./assets/client-script.js";
import { PAGE_CSS } from "./assets/page-css.js";
import { pageHtml } from "./assets/page-html.js";

/**
 * Scripts and styles only from this origin, no inline code, no frames, no form posts
 * elsewhere: even a rendering bug cannot run a message's text as code.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/** `GET /demo/` (the page), `/demo/app.css`, `/demo/app.js`; `/demo` redirects to `/demo/`. */
export function registerStaticRoutes(router: Router, locale: Locale): void {
  const css = asset(PAGE_CSS, "text/css; charset=utf-8");
  const js = asset(clientScript(), "text/javascript; charset=utf-8");
  const version = createHash("sha256").update(css.etag).update(js.etag).digest("base64url").slice(0, 12);
  const html = asset(pageHtml(locale, version), "text/html; charset=utf-8");

  const serve = (item: Asset) => (ctx: Context) => {
    ctx.set("Content-Security-Policy", PAGE_CSP);
    ctx.set("X-Content-Type-Options", "nosniff");
    ctx.set("Referrer-Policy", "no-referrer");
    // Small files: always revalidated, answered 304 while unchanged.
    ctx.set("Cache-Control", "no-cache");
    ctx.set("ETag", item.etag);
    ctx.type = item.type;
    if (ctx.get("If-None-Match") === item.etag) {
      ctx.status = 304;
      return;
    }
    ctx.body = item.body;
  };
  router.get("/", serve(html));
  router.get("/app.css", serve(css));
  router.get("/app.js", serve(js));
}
