import type { Context, Next } from "koa";
import { isLoopback } from "../../http/index.js";
import { DemoApiError } from "./api-error.js";

/**
 * The demo acts as a dispatcher on the visitor's behalf, so the API answers only pages of
 * this machine: the Host must be a loopback name (a DNS-rebinding page has its own host
 * name), and a browser's Origin, when sent, must be that same host.
 */
export async function loopbackOnly(ctx: Context, next: Next): Promise<void> {
  const host = ctx.get("Host");
  if (!isLoopback(hostName(host))) throw new DemoApiError(403, "foreignHost");
  const origin = ctx.get("Origin");
  if (origin !== "" && origin !== `${ctx.protocol}://${host}`) throw new DemoApiError(403, "foreignOrigin");
  await next();
}

/** `127.0.0.1:8787` → `127.0.0.1`, `[::1]:8787` → `::1`. */
function hostName(host: string): string {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]"));
  const colon = host.lastIndexOf(":");
  return colon >= 0 ? host.slice(0, colon) : host;
}
