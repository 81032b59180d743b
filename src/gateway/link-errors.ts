import { ClawbridgeError, type LocalText } from "../core/index.js";
import { gatewayMessages, gatewayText, nodeText, reasonOf } from "./messages.js";

// The failures of the link itself: nobody answered, too late, or the socket went away.

const msg = gatewayMessages;

/**
 * No link to the node: after waiting `afterMs` (0: at once), with why the last attempt failed
 * and that attempt's fix when there was one.
 */
export function unreachableError(
  node: string,
  url: string,
  afterMs: number,
  last: ClawbridgeError | undefined,
): ClawbridgeError<"CB_GATEWAY_UNREACHABLE"> {
  const what =
    afterMs > 0 ? msg.text("unreachableAfter", { url, ms: afterMs }) : msg.text("unreachable", { url });
  const reason = last ? reasonOf(last.text) : undefined;
  const text = reason ? gatewayText("withReason", {}, { text: what, reason }) : what;
  return new ClawbridgeError("CB_GATEWAY_UNREACHABLE", nodeText(node, text), {
    fix: last?.fixText ?? msg.text("unreachableFix", { node }),
    details: {
      node,
      url,
      lastError: last?.code,
      reason: reason?.render("en"),
      reasonText: reason,
    },
  });
}

export function badUrlError(
  node: string,
  url: string,
  reason: string,
): ClawbridgeError<"CB_GATEWAY_UNREACHABLE"> {
  return new ClawbridgeError("CB_GATEWAY_UNREACHABLE", nodeText(node, msg.text("badUrl", { url, reason })), {
    fix: msg.text("badUrlFix"),
    details: { node, url },
  });
}

/** The socket reported an error (refused, reset, DNS): the system's words, kept as they are. */
export function socketError(
  node: string,
  url: string,
  reason: string,
): ClawbridgeError<"CB_GATEWAY_UNREACHABLE"> {
  return new ClawbridgeError("CB_GATEWAY_UNREACHABLE", nodeText(node, msg.text("socketError", { reason })), {
    fix: msg.text("socketErrorFix", { node, url }),
    details: { node, url },
  });
}

export function handshakeTimeoutError(node: string): ClawbridgeError<"CB_GATEWAY_TIMEOUT"> {
  return new ClawbridgeError("CB_GATEWAY_TIMEOUT", nodeText(node, msg.text("handshakeTimeout")), {
    details: { node, method: "connect" },
  });
}

export function silentError(node: string, graceMs: number): ClawbridgeError<"CB_GATEWAY_TIMEOUT"> {
  return new ClawbridgeError(
    "CB_GATEWAY_TIMEOUT",
    nodeText(node, msg.text("silent", { ms: Math.round(graceMs) })),
    {
      details: { node },
    },
  );
}

export function requestTimeoutError(
  node: string,
  method: string,
  ms: number,
): ClawbridgeError<"CB_GATEWAY_TIMEOUT"> {
  return new ClawbridgeError(
    "CB_GATEWAY_TIMEOUT",
    nodeText(node, msg.text("requestTimeout", { method, ms })),
    {
      retryable: true,
      details: { node, method },
    },
  );
}

export function badHelloError(node: string): ClawbridgeError<"CB_GATEWAY_BAD_FRAME"> {
  return new ClawbridgeError("CB_GATEWAY_BAD_FRAME", nodeText(node, msg.text("badHello")), {
    details: { node },
  });
}

/** The socket closed while connected, with the close code and reason the gateway gave. */
export function closedError(
  node: string,
  code: number,
  reason: string,
): ClawbridgeError<"CB_GATEWAY_CLOSED"> {
  const detail = `${code}${reason ? ` ${reason}` : ""}`;
  return new ClawbridgeError("CB_GATEWAY_CLOSED", nodeText(node, msg.text("closed", { detail })), {
    retryable: true,
    details: { node },
  });
}

/** The gateway closed the socket before the handshake finished. */
export function closedByGatewayError(node: string, code: number): ClawbridgeError<"CB_GATEWAY_CLOSED"> {
  return new ClawbridgeError("CB_GATEWAY_CLOSED", nodeText(node, msg.text("closedByGateway", { code })), {
    details: { node },
  });
}

export function stoppedError(node: string, beforeRunEnded = false): ClawbridgeError<"CB_GATEWAY_CLOSED"> {
  const text: LocalText = msg.text(beforeRunEnded ? "stoppedBeforeRunEnded" : "stopped");
  return new ClawbridgeError("CB_GATEWAY_CLOSED", nodeText(node, text), { details: { node } });
}

export function sendFailedError(
  node: string,
  method: string,
  reason: string,
): ClawbridgeError<"CB_GATEWAY_CLOSED"> {
  return new ClawbridgeError(
    "CB_GATEWAY_CLOSED",
    nodeText(node, msg.text("sendFailed", { method, reason })),
    {
      retryable: true,
      details: { node, method },
    },
  );
}
