import http from "node:http";
import net from "node:net";
import type { LoadedConfig } from "../../config/index.js";
import { errnoCode } from "../../core/index.js";
import type { CliContext } from "../context.js";
import type { CliMessageKey } from "../messages.js";
import type { DoctorCheck } from "./check.js";
import { runningBridge } from "./running-bridge.js";

/** How long a busy port may take to answer `/healthz` before it counts as someone else's. */
const HEALTH_TIMEOUT_MS = 1_500;

type ListenerKey = "http" | "ops";

const LISTENER_LABEL: Record<ListenerKey, CliMessageKey> = {
  http: "doctorListenerHttp",
  ops: "doctorListenerOps",
};
const EXPOSED_FIX: Record<ListenerKey, CliMessageKey> = {
  http: "fixListenerExposedHttp",
  ops: "fixListenerExposedOps",
};

/** 127.0.0.0/8, ::1 and localhost: only this computer can connect. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Both listeners as the bridge will open them: whether the address reaches beyond this
 * computer (a warning naming the key, as the example config promises) and whether the port
 * can be taken — a port held by this state folder's own running bridge is not a problem.
 */
export async function checkListeners(ctx: CliContext, loaded: LoadedConfig): Promise<DoctorCheck[]> {
  const { config } = loaded;
  const keys: ListenerKey[] = ["http", "ops"];
  const results = await Promise.all(
    keys.map((key) => checkListener(ctx, key, config[key].host, config[key].port, config.state.dir)),
  );
  return results.flat();
}

async function checkListener(
  ctx: CliContext,
  key: ListenerKey,
  host: string,
  port: number,
  stateDir: string,
): Promise<DoctorCheck[]> {
  const label = (what: string) => `${ctx.t(LISTENER_LABEL[key])}: ${what}`;
  const loopback = isLoopbackHost(host);
  const address: DoctorCheck = loopback
    ? {
        section: "listeners",
        id: `listeners.${key}.host`,
        label: label(ctx.t("checkListenerAddress")),
        ok: true,
        detail: ctx.t("listenerLoopback", { host }),
      }
    : {
        section: "listeners",
        id: `listeners.${key}.host`,
        label: label(ctx.t("checkListenerAddress")),
        ok: true,
        warning: true,
        detail: ctx.t("listenerExposed", { key: `${key}.host`, host }),
        fix: ctx.t(EXPOSED_FIX[key]),
      };
  return [address, await checkPort(ctx, key, host, port, stateDir, label)];
}

async function checkPort(
  ctx: CliContext,
  key: ListenerKey,
  host: string,
  port: number,
  stateDir: string,
  label: (what: string) => string,
): Promise<DoctorCheck> {
  const base = {
    section: "listeners",
    id: `listeners.${key}.port`,
    label: label(ctx.t("checkListenerPort")),
  };
  if (port === 0) return { ...base, ok: true, detail: ctx.t("listenerAnyPort") };
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const errno = await tryListen(host, port);
  if (errno === undefined) return { ...base, ok: true, detail: ctx.t("listenerFree", { where }) };
  if (errno === "EADDRINUSE") {
    // Busy is fine when the one listening is this state folder's own bridge: doctor is
    // often run next to a running bridge. Both facts are needed — the lock says a bridge
    // of this folder runs, /healthz says it is the one on this port.
    const [holder, clawbridge] = await Promise.all([
      runningBridge(stateDir),
      answersAsClawbridge(host, port),
    ]);
    if (holder && clawbridge) {
      return {
        ...base,
        ok: true,
        detail: ctx.t("listenerOwnBridge", {
          where,
          pid: holder.pid,
          host: holder.host,
          since: holder.since,
        }),
      };
    }
    return {
      ...base,
      ok: false,
      detail: ctx.t(clawbridge ? "listenerOtherBridge" : "listenerBusy", { where, dir: stateDir }),
      fix: ctx.t("fixListenerBusy", { port, key: `${key}.port` }),
    };
  }
  if (errno === "EACCES") {
    return {
      ...base,
      ok: false,
      detail: ctx.t("listenerDenied", { where }),
      fix: ctx.t("fixListenerDenied", { key: `${key}.port` }),
    };
  }
  return {
    ...base,
    ok: false,
    detail: ctx.t("listenerCannot", { where, reason: errno }),
    fix: ctx.t("fixListenerAddress", { key: `${key}.host` }),
  };
}

/** Takes the port for a moment the way the bridge will; the errno when it cannot. */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (error) => resolve(errnoCode(error) ?? String(error)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Whether what listens there answers `/healthz` as clawbridge does (`{status: "ok", version}`).
 * Plain `http.get` with no agent, destroyed on timeout: a program that accepts and never
 * answers must not keep doctor's process alive (an aborted `fetch` leaves its socket open).
 */
function answersAsClawbridge(host: string, port: number): Promise<boolean> {
  // A wildcard address is reached through this computer's own loopback.
  const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return new Promise((resolve) => {
    const request = http.get(
      { host: target, port, path: "/healthz", agent: false, timeout: HEALTH_TIMEOUT_MS },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
          if (body.length > 64 * 1024) request.destroy();
        });
        response.on("end", () => {
          try {
            const parsed = JSON.parse(body) as { status?: unknown; version?: unknown };
            resolve(
              response.statusCode === 200 && parsed.status === "ok" && typeof parsed.version === "string",
            );
          } catch {
            resolve(false);
          }
        });
        response.on("error", () => resolve(false));
      },
    );
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(false));
    request.on("close", () => resolve(false));
  });
}
