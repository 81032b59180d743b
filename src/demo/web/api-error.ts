import type { Context, Next } from "koa";
import type { Locale, Params } from "../../core/index.js";
import { demoWebMessages, type DemoWebMessageKey } from "./messages.js";

/**
 * A refusal of the demo API: an HTTP status and a message key. The key is the stable `code`
 * the page can branch on; the message is rendered in the asker's language when answered.
 */
export class DemoApiError extends Error {
  constructor(
    readonly status: number,
    readonly key: DemoWebMessageKey,
    readonly params: Params = {},
  ) {
    super(demoWebMessages.text(key, params).render("en"));
    this.name = "DemoApiError";
  }
}

/**
 * The page says which language it shows through `Accept-Language` (it sets the header
 * itself when the visitor switches); anything else gets the sandbox's language.
 */
export function requestLocale(ctx: Context, fallback: Locale): Locale {
  const first = ctx.get("Accept-Language").split(",")[0]?.trim().toLowerCase() ?? "";
  if (first.startsWith("zh")) return "zh-CN";
  if (first.startsWith("en")) return "en";
  return fallback;
}

/**
 * Answers a `DemoApiError` as `{error: {status, code, message}}` — the shape the bridge's
 * own listener uses — so a refusal never falls through to the generic "bad request".
 */
export function demoApiErrors(fallback: Locale) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof DemoApiError)) throw error;
      ctx.status = error.status;
      ctx.set("Cache-Control", "no-store");
      ctx.body = {
        error: {
          status: error.status,
          code: error.key,
          message: demoWebMessages.text(error.key, error.params).render(requestLocale(ctx, fallback)),
        },
      };
    }
  };
}
