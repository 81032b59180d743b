import Router from "@koa/router";
import type { Logger } from "../core/index.js";
import {
  startHttpServer,
  type HealthReport,
  type ReadyReport,
  type RunningHttpServer,
} from "../http/index.js";
import type { Metrics } from "./metrics.js";

export const METRICS_PATH = "/metrics";

export interface OpsServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  logger: Logger;
  health: () => HealthReport | Promise<HealthReport>;
  ready: () => ReadyReport | Promise<ReadyReport>;
}

/**
 * The ops listener (`ops.host:ops.port`): `GET /metrics` in Prometheus' text format, and the
 * same `/healthz` and `/readyz` as the main listener, so a scraper and a probe need only this
 * port — which can stay on loopback or a private interface while the webhook port faces Feishu.
 */
export function startOpsServer(options: OpsServerOptions): Promise<RunningHttpServer> {
  const router = new Router({ strict: true, sensitive: true });
  router.get(METRICS_PATH, async (ctx) => {
    ctx.set("Cache-Control", "no-store");
    ctx.type = options.metrics.contentType;
    ctx.body = await options.metrics.text();
  });
  return startHttpServer({
    host: options.host,
    port: options.port,
    logger: options.logger.child({ listener: "ops" }),
    configKey: "ops",
    routes: [router.routes()],
    health: options.health,
    ready: options.ready,
  });
}
