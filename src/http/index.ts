/** The main HTTP listener: mounted routes (webhook, demo), `/healthz`, `/readyz`. */
export {
  startHttpServer,
  isLoopback,
  DEFAULT_MAX_BODY_BYTES,
  HEALTHZ_PATH,
  READYZ_PATH,
  type HttpServerOptions,
  type MountedMiddleware,
  type RunningHttpServer,
} from "./server.js";
export {
  readyBody,
  healthBody,
  type HealthReport,
  type HealthBody,
  type PartReadiness,
  type ReadyReport,
  type ReadyBody,
} from "./health.js";
