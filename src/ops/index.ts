export { Metrics, mirrorCounter, type MetricsOptions } from "./metrics.js";
export {
  countingQuarantine,
  relayMetrics,
  watchFeishu,
  watchGateways,
  watchPool,
  watchRelay,
  watchTasks,
} from "./bridge-metrics.js";
export {
  HealthMonitor,
  probeFolder,
  DEFAULT_HEALTH_INTERVAL_MS,
  RECOVERY_PROBES,
  type HealthCheck,
  type HealthMonitorOptions,
  type NoticeSink,
} from "./health-monitor.js";
export {
  feishuIntakeCheck,
  gatewayCheck,
  redisCheck,
  sharedFolderCheck,
  stateDirCheck,
  FEISHU_INTAKE_GRACE_MS,
  FOLDER_GRACE_MS,
  GATEWAY_GRACE_MS,
} from "./health-checks.js";
export { startOpsServer, METRICS_PATH, type OpsServerOptions } from "./ops-server.js";
export { opsMessages, type OpsMessageKey } from "./messages.js";
