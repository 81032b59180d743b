import { intakeUp, type FeishuAdapter } from "../feishu/index.js";
import type { GatewayClient } from "../gateway/index.js";
import type { HealthCheck } from "./health-monitor.js";
import { probeFolder } from "./health-monitor.js";
import { opsMessages } from "./messages.js";

/** A long connection that is down this long is worth telling people (the SDK reconnects within seconds). */
export const FEISHU_INTAKE_GRACE_MS = 30_000;
/** A node gone this long is worth telling people (restarts and brief network drops are not). */
export const GATEWAY_GRACE_MS = 60_000;
/** Two failed rounds in a row for the folders: one slow SMB answer is not an outage. */
export const FOLDER_GRACE_MS = 5_000;

/** The shared folder can be listed and written (probed in `status/`, which is the bridge's own). */
export function sharedFolderCheck(root: string, statusDir: string, self: string): HealthCheck {
  return {
    name: "shared_folder",
    graceMs: FOLDER_GRACE_MS,
    probe: () => probeFolder(statusDir, self),
    down: (reason) => opsMessages.text("sharedFolderDown", { root, reason }),
    back: (duration) => opsMessages.text("sharedFolderBack", { duration }),
  };
}

/** The state folder can be written (outboxes, journals, cursors). */
export function stateDirCheck(dir: string): HealthCheck {
  return {
    name: "state_dir",
    graceMs: FOLDER_GRACE_MS,
    probe: () => probeFolder(dir, "clawbridge"),
    down: (reason) => opsMessages.text("stateDirDown", { dir, reason }),
    back: (duration) => opsMessages.text("stateDirBack", { duration }),
  };
}

/** Feishu events can arrive: the long connection is up (webhook mode has nothing to lose here). */
/** Redis restarting is back within seconds; longer is worth a notice. */
const REDIS_GRACE_MS = 10_000;

export function feishuIntakeCheck(feishu: FeishuAdapter): HealthCheck {
  return {
    name: "feishu_intake",
    graceMs: FEISHU_INTAKE_GRACE_MS,
    probe: () => {
      const health = feishu.health();
      return intakeUp(health) ? undefined : `long connection ${health.intake}`;
    },
    down: (reason) => opsMessages.text("feishuIntakeDown", { reason }),
    back: (duration) => opsMessages.text("feishuIntakeBack", { duration }),
  };
}

/**
 * A node's gateway is connected. Waiting for pairing approval is left out: the pairing card
 * already says so, with the command to run.
 */
export function gatewayCheck(node: string, gateway: GatewayClient): HealthCheck {
  return {
    name: `gateway:${node}`,
    graceMs: GATEWAY_GRACE_MS,
    probe: () => {
      const health = gateway.health();
      if (health.state === "connected" || health.state === "pairing" || health.state === "stopped")
        return undefined;
      return health.lastError?.message ?? health.state;
    },
    down: (reason) => opsMessages.text("gatewayDown", { node, reason }),
    back: (duration) => opsMessages.text("gatewayBack", { node, duration }),
  };
}

/** Redis answers (the Redis store): without it nothing new is taken, and roles lapse. */
export function redisCheck(up: () => boolean): HealthCheck {
  return {
    name: "redis",
    graceMs: REDIS_GRACE_MS,
    probe: () => (up() ? undefined : "not connected"),
    down: (reason) => opsMessages.text("redisDown", { reason }),
    back: (duration) => opsMessages.text("redisBack", { duration }),
  };
}
