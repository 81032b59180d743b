import { Router } from "@koa/router";
import type { Context } from "koa";
import { REFUSALS } from "./codes.js";
import { callState, isObject, ok, refuse, type Core } from "./core.js";
import { registerMessageRoutes } from "./messages-api.js";

/**
 * Feishu's Open API as the bridge uses it (tokens, bot info, chats, messages) and the
 * long-connection endpoint. Auth, faults and the app QPS limit run before these.
 */
export function openApiRouter(core: Core): Router {
  const router = new Router();

  router.post("/open-apis/auth/v3/tenant_access_token/internal", (ctx) => token(core, ctx, "tenant"));
  router.post("/open-apis/auth/v3/app_access_token/internal", (ctx) => token(core, ctx, "app"));

  router.get("/open-apis/bot/v3/info", (ctx) => {
    const app = callState(ctx).app!;
    ctx.body = {
      code: 0,
      msg: "ok",
      bot: {
        activate_status: 2,
        app_name: app.bot.name,
        avatar_url: `https://s1-imfile.feishucdn.com/static-resource/v1/emulator_${app.appId}`,
        ip_white_list: [],
        open_id: app.bot.openIdFor(app.appId),
      },
    };
  });

  router.get("/open-apis/im/v1/chats/:chat_id", (ctx) => {
    const app = callState(ctx).app!;
    const chat = core.dir.chat(ctx.params.chat_id!);
    if (!chat || !chat.members.includes(app.bot.unionId)) return refuse(ctx, REFUSALS.botNotInChat);
    const kinds = chat.members.map((u) => core.dir.principal(u)?.kind);
    ok(ctx, {
      data: {
        avatar: "",
        name: chat.name,
        description: "",
        i18n_names: {},
        owner_id: core.dir.openId(app.appId, chat.ownerUnionId),
        owner_id_type: "open_id",
        add_member_permission: "all_members",
        share_card_permission: "allowed",
        at_all_permission: "all_members",
        edit_permission: "all_members",
        chat_mode: "group",
        chat_type: "private",
        chat_tag: "inner",
        external: false,
        tenant_key: core.dir.tenantKey,
        user_count: String(kinds.filter((k) => k === "person").length),
        bot_count: String(kinds.filter((k) => k === "bot").length),
      },
    });
  });

  router.post("/callback/ws/endpoint", (ctx) => {
    const body = callState(ctx).body;
    const app = isObject(body) && typeof body.AppID === "string" ? core.dir.apps.get(body.AppID) : undefined;
    if (!app || !isObject(body) || body.AppSecret !== app.appSecret) {
      const refusal = REFUSALS.endpointAuthFailed;
      ctx.status = refusal.status;
      ctx.body = { code: refusal.code, msg: refusal.msg, data: {} };
      return;
    }
    const wsBase = core.baseUrl().replace(/^http/, "ws");
    ctx.body = {
      code: 0,
      msg: "ok",
      data: { URL: core.ws.issue(app.appId, wsBase), ClientConfig: core.clientConfig() },
    };
  });

  registerMessageRoutes(router, core);
  return router;
}

function token(core: Core, ctx: Context, kind: "tenant" | "app"): void {
  const body = callState(ctx).body;
  const appId = isObject(body) && typeof body.app_id === "string" ? body.app_id : undefined;
  const app = appId ? core.dir.apps.get(appId) : undefined;
  if (!app || !isObject(body) || typeof body.app_secret !== "string")
    return refuse(ctx, REFUSALS.tokenInvalidParam);
  if (body.app_secret !== app.appSecret) return refuse(ctx, REFUSALS.appSecretInvalid);
  const tenant = core.tokens.issue(app.appId, "tenant");
  core.calls.addSecret(tenant.token);
  if (kind === "tenant") {
    ctx.body = { code: 0, msg: "ok", tenant_access_token: tenant.token, expire: tenant.expire };
    return;
  }
  const appToken = core.tokens.issue(app.appId, "app");
  core.calls.addSecret(appToken.token);
  ctx.body = {
    code: 0,
    msg: "ok",
    app_access_token: appToken.token,
    tenant_access_token: tenant.token,
    expire: appToken.expire,
  };
}
