import Koa, { type Context } from "koa";
import getRawBody from "raw-body";
import { REFUSALS, faultBody } from "./codes.js";
import { callState, refuse, type Core } from "./core.js";
import { resetSeconds } from "./limits.js";
import { openApiRouter } from "./open-api.js";

const BODY_LIMIT = "10mb";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Paths that behave like Feishu (logged, faultable); the rest is the emulator's own. */
const isPlatformPath = (path: string) => path.startsWith("/open-apis/") || path.startsWith("/callback/");
/** Open API calls that need no token and do not count against the app's QPS. */
const isAuthPath = (path: string) => path.startsWith("/open-apis/auth/");

/**
 * The HTTP side: Feishu's Open API and the long-connection endpoint behind call logging,
 * latency, injected faults, token auth and the app-wide QPS limit (in that order), plus
 * the emulator's own routes (`extra`, e.g. the control API) in front.
 */
export function createHttpApp(core: Core, extra: Koa.Middleware[]): Koa {
  const app = new Koa();
  app.silent = true;
  app.on("error", (error: unknown) => core.log.debug({ err: error }, "feishu emulator http error"));
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      core.log.error({ err: error, path: ctx.path }, "feishu emulator handler failed");
      ctx.status = 500;
      ctx.body = { code: 1, msg: "internal error" };
    }
  });
  for (const middleware of extra) app.use(middleware);
  app.use(async (ctx, next) => {
    if (!isPlatformPath(ctx.path)) return next();
    try {
      await readBody(ctx);
      identify(core, ctx);
      await next();
    } finally {
      // Recorded even when a handler threw (the outer middleware turns that into a 500).
      const answer = ctx.body as { code?: unknown } | undefined;
      core.calls.add({
        at: Date.now(),
        method: ctx.method,
        path: ctx.path,
        query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, String(v)])),
        appId: callState(ctx).appId,
        body: callState(ctx).body,
        status: ctx.status,
        ...(typeof answer?.code === "number" ? { code: answer.code } : {}),
        ...(ctx.state.faulted ? { faulted: true } : {}),
      });
    }
  });
  app.use(async (ctx, next) => {
    if (!isPlatformPath(ctx.path)) return next();
    if (core.faults.latencyMs > 0) await sleep(core.faults.latencyMs);
    const fault = core.faults.take(ctx.method, ctx.path);
    if (!fault) return next();
    if (fault.latencyMs) await sleep(fault.latencyMs);
    if (fault.status === undefined && !fault.commitThenFail) return next();
    ctx.state.faulted = true;
    // commitThenFail: the call takes effect (a message is created) but the client sees an
    // error — exactly what a uuid protects a retry against.
    if (fault.commitThenFail) await next();
    const status = fault.status ?? 500;
    ctx.status = status;
    ctx.body =
      status < 400
        ? { ...faultBody(status, fault.code, fault.msg), data: {} }
        : faultBody(status, fault.code, fault.msg);
    if (status === 429) {
      ctx.set("x-ogw-ratelimit-limit", String(Number.isFinite(core.limits.appQps) ? core.limits.appQps : 50));
      ctx.set("x-ogw-ratelimit-reset", String(Math.max(1, Math.ceil(fault.resetSec ?? 1))));
    }
  });
  const router = openApiRouter(core);
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith("/open-apis/") || isAuthPath(ctx.path)) return next();
    // Unknown routes answer 404 before any token check, as Feishu's gateway does.
    if (router.match(ctx.path, ctx.method).pathAndMethod.length === 0) return next();
    const header = ctx.get("authorization");
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return refuse(ctx, REFUSALS.tokenMissing);
    const appId = core.tokens.appOf(match[1]!);
    const app = appId ? core.dir.apps.get(appId) : undefined;
    if (!app) return refuse(ctx, REFUSALS.tokenInvalid);
    callState(ctx).app = app;
    const admitted = core.windows.app.take(app.appId, core.limits.appQps);
    if (!admitted.ok) {
      refuse(ctx, { ...REFUSALS.appRateLimited, status: core.appLimitHttpStatus });
      ctx.set("x-ogw-ratelimit-limit", String(core.limits.appQps));
      ctx.set("x-ogw-ratelimit-reset", String(resetSeconds(admitted.resetMs)));
      return;
    }
    return next();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    if (ctx.body !== undefined) return;
    ctx.status = 404;
    ctx.body = { code: REFUSALS.notFound.code, msg: REFUSALS.notFound.msg };
  });
  return app;
}

async function readBody(ctx: Context): Promise<void> {
  if (ctx.method === "GET" || ctx.method === "HEAD") return;
  const raw = await getRawBody(ctx.req, { limit: BODY_LIMIT, encoding: "utf8" });
  if (raw === "") return;
  try {
    callState(ctx).body = JSON.parse(raw);
  } catch {
    callState(ctx).body = raw;
  }
}

/** Who is calling, for the log (before auth decides whether that is allowed). */
function identify(core: Core, ctx: Context): void {
  const state = callState(ctx);
  const token = /^Bearer\s+(\S+)$/i.exec(ctx.get("authorization"))?.[1];
  const body = state.body as Record<string, unknown> | undefined;
  const named =
    typeof body?.app_id === "string" ? body.app_id : typeof body?.AppID === "string" ? body.AppID : undefined;
  state.appId = (token ? core.tokens.ownerOf(token) : undefined) ?? named;
}
