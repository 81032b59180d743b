import { httpMessages } from "./messages.js";
import { createServer, type Server } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import Router from "@koa/router";
import Koa, { type Context } from "koa";
import getRawBody from "raw-body";
import {
  ClawbridgeError,
  errnoCode,
  isClawbridgeError,
  silentLogger,
  packageVersion,
  type Logger,
} from "../core/index.js";
import { healthBody, readyBody, type HealthReport, type ReadyBody, type ReadyReport } from "./health.js";

/** Cap on request bodies outside the mounted routes: our own routes read none. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const HEALTHZ_PATH = "/healthz";
export const READYZ_PATH = "/readyz";

/** The context a router's `routes()` expects; plain koa middleware accepts it as well. */
type RouterContext = Parameters<ReturnType<Router["routes"]>>[0];

/** What may be mounted: plain koa middleware or a router's `routes()`. */
export type MountedMiddleware = (ctx: RouterContext, next: Koa.Next) => unknown;

export interface HttpServerOptions {
  /** `http.host`; anything beyond loopback is logged as a warning. */
  host: string;
  /** `http.port`; 0 picks a free port. */
  port: number;
  logger?: Logger;
  /** Mounted first, in order (the Feishu webhook routes, the demo); they read their own bodies. */
  routes?: MountedMiddleware[];
  /** Extra fields for `/healthz`. */
  health?: () => HealthReport | Promise<HealthReport>;
  /** Readiness of each part, for `/readyz`; without it the bridge is ready once it listens. */
  ready?: () => ReadyReport | Promise<ReadyReport>;
  /** Reported by `/healthz`; defaults to package.json's. */
  version?: string;
  /** Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** The config section named in errors and warnings: `http` (default) or `ops`. */
  configKey?: "http" | "ops";
}

export interface RunningHttpServer {
  /** e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The bound port (the real one when 0 was asked). */
  port: number;
  server: Server;
  /**
   * Stops accepting connections, lets requests in flight finish for up to `timeoutMs`
   * (default 5 s), then destroys what is left. True when everything finished in time.
   */
  close(timeoutMs?: number): Promise<boolean>;
}

/**
 * The main listener: the mounted routes, then `GET /healthz` (liveness: 200 while the process
 * serves), `GET /readyz` (200 when every required part is ready, else 503 naming the part
 * and why), JSON 404 for everything else. Errors become JSON; a message is shown only when
 * the error says it may be (`expose`), never a stack trace.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const log = (options.logger ?? silentLogger()).child({ component: "http" });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const version = options.version ?? packageVersion();
  let closing = false;

  const app = new Koa();
  // Errors koa catches itself (a broken response stream): logged, never printed to stderr.
  app.on("error", (error: unknown) => log.debug({ err: error }, "http response error"));

  app.use(async (ctx, next) => {
    try {
      await next();
      if ((ctx.body === undefined || ctx.body === null) && ctx.status >= 400) {
        answerError(ctx, ctx.status, defaultMessage(ctx));
      }
    } catch (error) {
      handleError(ctx, error, log);
    }
    // While closing, do not keep the connection for another request.
    if (closing && !ctx.headerSent) ctx.set("Connection", "close");
  });
  // A router's middleware wants its own context fields, which it sets itself.
  for (const middleware of options.routes ?? []) app.use(middleware as Koa.Middleware);
  app.use(capBody(maxBodyBytes));

  const router = new Router({ strict: true, sensitive: true });
  router.get(HEALTHZ_PATH, async (ctx) => {
    const report = (await options.health?.()) ?? {};
    ctx.set("Cache-Control", "no-store");
    ctx.body = healthBody(report, version, Math.floor(process.uptime()));
  });
  router.get(READYZ_PATH, async (ctx) => {
    ctx.set("Cache-Control", "no-store");
    let body: ReadyBody;
    try {
      body = readyBody((await options.ready?.()) ?? { parts: {} });
    } catch (error) {
      log.warn({ err: error }, "readiness check failed");
      body = { ready: false, parts: {}, error: "the readiness check failed" };
    }
    ctx.status = body.ready ? 200 : 503;
    ctx.body = body;
  });
  app.use(router.routes());
  app.use(router.allowedMethods());

  const server = createServer(app.callback());
  await listen(server, options);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${isIP(options.host) === 6 ? `[${options.host}]` : options.host}:${port}`;
  if (!isLoopback(options.host)) {
    log.warn(
      { host: options.host, port },
      `the ${options.configKey ?? "http"} listener is bound beyond loopback (${options.host}): other machines can reach it; make sure that is intended (firewall or reverse proxy)`,
    );
  }
  log.info({ url }, "HTTP listening");

  let closed: Promise<boolean> | undefined;
  return {
    url,
    port,
    server,
    close: (timeoutMs = 5_000) => {
      closing = true;
      closed ??= drainAndClose(server, timeoutMs, log);
      return closed;
    },
  };
}

function listen(server: Server, options: HttpServerOptions) {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      const errno = errnoCode(error);
      const params = {
        host: options.host,
        port: options.port,
        address: `${options.host}:${options.port}`,
        key: options.configKey ?? "http",
      };
      const fix =
        errno === "EADDRINUSE"
          ? "fixInUse"
          : errno === "EACCES"
            ? "fixAccess"
            : errno === "EADDRNOTAVAIL" || errno === "ENOTFOUND"
              ? "fixAddress"
              : "fixOther";
      reject(
        new ClawbridgeError(
          "CB_HTTP_LISTEN",
          httpMessages.text("listenFailed", { ...params, reason: errno ?? error.message }),
          {
            fix: httpMessages.text(fix, params),
            details: { errno, host: options.host, port: options.port },
            cause: error,
          },
        ),
      );
    };
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/**
 * Reads (and drops) the body of a request no mounted route took, under the cap: an unread
 * body would otherwise be drained by Node whatever its size, and a declared oversize one is
 * refused before a byte is read.
 */
function capBody(maxBytes: number): Koa.Middleware {
  return async (ctx, next) => {
    const declared = ctx.get("Content-Length");
    const hasBody = (declared !== "" && declared !== "0") || ctx.get("Transfer-Encoding") !== "";
    if (hasBody) {
      const length = declared === "" ? undefined : Number(declared);
      if (length !== undefined && length > maxBytes) return refuseTooLarge(ctx, maxBytes);
      try {
        await getRawBody(ctx.req, { limit: maxBytes, length: length ?? null });
      } catch (error) {
        if ((error as { type?: unknown }).type === "entity.too.large") return refuseTooLarge(ctx, maxBytes);
        ctx.throw(400, "the request body could not be read");
      }
    }
    await next();
  };
}

function refuseTooLarge(ctx: Context, maxBytes: number): void {
  // What is left of the body is not worth reading: close the connection instead.
  ctx.set("Connection", "close");
  answerError(ctx, 413, `request body larger than ${maxBytes} bytes`);
}

function handleError(ctx: Context, error: unknown, log: Logger): void {
  const e = (error ?? {}) as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const raw = typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : 500;
  const status = raw >= 400 && raw <= 599 ? raw : 500;
  if (status >= 500) log.error({ err: error, method: ctx.method, path: ctx.path }, "HTTP handler failed");
  else log.debug({ err: error, method: ctx.method, path: ctx.path, status }, "HTTP request refused");
  if (ctx.headerSent || !ctx.writable) return;
  // Headers a handler set before it threw (cookies, content type) do not belong to the error.
  ctx.res.getHeaderNames().forEach((name) => ctx.res.removeHeader(name));
  // http-errors expose 4xx messages only; a ClawbridgeError says itself whether it is meant for people.
  const exposed = e.expose === true && typeof e.message === "string" && e.message !== "";
  const message = exposed ? (e.message as string) : defaultMessage(ctx, status);
  answerError(ctx, status, message, isClawbridgeError(error) && exposed ? error : undefined);
}

function answerError(ctx: Context, status: number, message: string, error?: ClawbridgeError): void {
  ctx.status = status;
  ctx.body = {
    error: {
      status,
      message,
      ...(error ? { code: error.code, ...(error.fix ? { fix: error.fix } : {}) } : {}),
    },
  };
}

function defaultMessage(ctx: Context, status = ctx.status): string {
  if (status === 404) return `no route for ${ctx.method} ${ctx.path}`;
  if (status === 405) return `${ctx.method} is not allowed here (allowed: ${ctx.response.get("Allow")})`;
  if (status === 501) return `${ctx.method} is not supported`;
  return status >= 500 ? "internal error" : "bad request";
}

async function drainAndClose(server: Server, timeoutMs: number, log: Logger): Promise<boolean> {
  // close() stops accepting and (Node ≥ 19) drops idle keep-alive connections; its callback
  // runs once the requests in flight have finished and their connections closed.
  const done = new Promise<void>((resolve) => server.close(() => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, timeoutMs, "timeout")));
  const outcome = await Promise.race([done.then(() => "drained" as const), timedOut]);
  clearTimeout(timer);
  if (outcome === "drained") {
    log.info("HTTP listener closed");
    return true;
  }
  log.warn({ timeoutMs }, "HTTP requests still running at shutdown; closing their connections");
  server.closeAllConnections();
  await done;
  return false;
}

/** 127.0.0.0/8, ::1 (also as an IPv4-mapped address) and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice("::ffff:".length) : h;
  return isIP(v4) === 4 && v4.startsWith("127.");
}
