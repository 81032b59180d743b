import { ClawbridgeError } from "../core/index.js";
import { gatewayMessages, gatewayText, nodeText } from "./messages.js";

// How an agent run can end badly, in words for whoever started it.

const msg = gatewayMessages;

export function runTimeoutError(
  node: string,
  runId: string,
  ms: number,
): ClawbridgeError<"CB_GATEWAY_TIMEOUT"> {
  return new ClawbridgeError("CB_GATEWAY_TIMEOUT", nodeText(node, msg.text("runTimeout", { runId, ms })), {
    details: { node, runId },
  });
}

/** The run ended in an error event, without a reason. */
export function runFailedError(node: string, runId: string): ClawbridgeError<"CB_GATEWAY_RUN_FAILED"> {
  return new ClawbridgeError("CB_GATEWAY_RUN_FAILED", nodeText(node, msg.text("runFailed", { runId })), {
    details: { node, runId },
  });
}

/** The run's final answer says it failed: the gateway's own words when it gave any. */
export function runFailedBecauseError(
  node: string,
  runId: string,
  reason: string | undefined,
): ClawbridgeError<"CB_GATEWAY_RUN_FAILED"> {
  const text =
    reason === undefined
      ? gatewayText("runFailedBecause", { runId }, { reason: msg.text("runFailedUnknown") })
      : msg.text("runFailedBecause", { runId, reason });
  return new ClawbridgeError("CB_GATEWAY_RUN_FAILED", nodeText(node, text), { details: { node, runId } });
}

/** `agent.wait` says the gateway has never heard of the run: it restarted meanwhile. */
export function runLostError(node: string, runId: string): ClawbridgeError<"CB_GATEWAY_RUN_FAILED"> {
  return new ClawbridgeError("CB_GATEWAY_RUN_FAILED", nodeText(node, msg.text("runLost", { runId })), {
    fix: msg.text("runLostFix"),
    details: { node, runId },
  });
}
