import type { LoadedConfig } from "../../config/index.js";
import { BOT_ACTIVE, domainUrl, probeFeishu, type Outcome } from "../../feishu/index.js";
import type { CliContext } from "../context.js";
import type { DoctorCheck } from "./check.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** The Feishu app, checked through the same SDK calls the bridge makes. */
export async function checkFeishu(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
  const feishu = loaded.config.feishu;
  const label = (what: string) => `${ctx.t("doctorFeishu")}: ${what}`;
  if (!feishu) {
    return [
      {
        section: "feishu",
        id: "feishu.configured",
        label: ctx.t("doctorFeishu"),
        ok: true,
        detail: ctx.t("feishuNotConfigured"),
      },
    ];
  }
  const secretWhere = loaded.sources["feishu.appSecret"]?.[0];
  const where = secretWhere ? ctx.t("envVar", { name: secretWhere }) : "feishu.appSecret";
  const mode = ctx.t(feishu.mode === "websocket" ? "feishuModeWebsocket" : "feishuModeWebhook");
  const fixFor = (outcome: Outcome<unknown>): string | undefined => {
    if (outcome.ok) return undefined;
    switch (outcome.error.code) {
      case "CB_FEISHU_AUTH":
        return ctx.t("fixFeishuAuth", { where });
      case "CB_FEISHU_NETWORK":
      case "CB_FEISHU_SERVER":
        return ctx.t("fixFeishuNetwork", { domain: domainUrl(feishu.domain) });
      default:
        return outcome.error.fix;
    }
  };
  const failed = (
    id: string,
    what: string,
    outcome: Outcome<unknown> & { ok: false },
    fix?: string,
  ): DoctorCheck => ({
    section: "feishu",
    id,
    label: label(what),
    ok: false,
    detail: ctx.t("feishuFailed", { message: outcome.error.message }),
    fix: fix ?? fixFor(outcome),
  });

  const probe = await probeFeishu({ ...feishu, chats: feishu.chats });
  const checks: DoctorCheck[] = [];
  if (!probe.credentials.ok) {
    checks.push(failed("feishu.credentials", ctx.t("checkFeishuCredentials"), probe.credentials));
  } else {
    checks.push({
      section: "feishu",
      id: "feishu.credentials",
      label: label(ctx.t("checkFeishuCredentials")),
      ok: true,
      detail: ctx.t("feishuCredentialsOk", { domain: domainUrl(feishu.domain) }),
    });
  }
  if (probe.bot) {
    if (!probe.bot.ok) {
      checks.push(failed("feishu.bot", ctx.t("checkFeishuBot"), probe.bot, ctx.t("fixFeishuBot")));
    } else {
      const bot = probe.bot.value;
      const active = bot.activateStatus === undefined || bot.activateStatus === BOT_ACTIVE;
      checks.push({
        section: "feishu",
        id: "feishu.bot",
        label: label(ctx.t("checkFeishuBot")),
        ok: active,
        detail: active
          ? ctx.t("feishuBotOk", { name: bot.name, openId: bot.openId })
          : ctx.t("feishuBotInactive", { name: bot.name, status: bot.activateStatus ?? "?" }),
        ...(active ? {} : { fix: ctx.t("fixFeishuBot") }),
      });
    }
  }
  if (probe.longConnection) {
    checks.push(
      probe.longConnection.ok
        ? {
            section: "feishu",
            id: "feishu.long-connection",
            label: label(ctx.t("checkFeishuLongConnection")),
            ok: true,
            detail: ctx.t("feishuLongConnectionOk"),
          }
        : failed(
            "feishu.long-connection",
            ctx.t("checkFeishuLongConnection"),
            probe.longConnection,
            probe.longConnection.error.code === "CB_FEISHU_AUTH"
              ? ctx.t("fixFeishuLongConnection", { mode })
              : fixFor(probe.longConnection),
          ),
    );
  }
  if (feishu.mode === "webhook") {
    const { host, port } = loaded.config.http;
    const base = `http://${host}:${port}`;
    const loopback = LOOPBACK.has(host);
    checks.push({
      section: "feishu",
      id: "feishu.webhook",
      label: label(ctx.t("checkFeishuWebhook")),
      ok: true,
      detail: `${ctx.t("feishuWebhookRoutes", { base })}${loopback ? `; ${ctx.t("feishuWebhookLoopback", { host })}` : ""}`,
      ...(loopback ? { fix: ctx.t("fixFeishuWebhook", { base }) } : {}),
    });
  }
  if (probe.credentials.ok && feishu.chats.length === 0) {
    checks.push({
      section: "feishu",
      id: "feishu.chats",
      label: label(ctx.t("checkFeishuChats")),
      ok: true,
      detail: ctx.t("feishuChatsAll"),
    });
  }
  for (const { chatId, outcome } of probe.chats) {
    const what = ctx.t("checkFeishuChat", { chat: chatId });
    checks.push(
      outcome.ok
        ? {
            section: "feishu",
            id: `feishu.chat.${chatId}`,
            label: label(what),
            ok: true,
            detail: ctx.t("feishuChatOk", { name: outcome.value.name }),
          }
        : failed(
            `feishu.chat.${chatId}`,
            what,
            outcome,
            outcome.error.code === "CB_FEISHU_REJECTED" ? ctx.t("fixFeishuChat") : undefined,
          ),
    );
  }
  checks.push({
    section: "feishu",
    id: "feishu.setup",
    label: label(ctx.t("checkFeishuSetup")),
    ok: true,
    detail: ctx.t("feishuSetupList", { mode }),
  });
  return checks;
}
