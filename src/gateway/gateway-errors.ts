import { ClawbridgeError, type ErrorCode } from "../core/index.js";
import type { GatewayErrorShape } from "./frames.js";
import { gatewayMessages, gatewayText, nodeText } from "./messages.js";
import { PROTOCOL_VERSION } from "./frames.js";
import { isForbidden } from "./refusal.js";

export const DEFAULT_GATEWAY_PORT = 18789;

const msg = gatewayMessages;

/** What a node's gateway said no with, as our typed error; `details` keep the gateway's own codes. */
export function gatewayError(
  node: string,
  error: GatewayErrorShape,
  context: { method: string },
): ClawbridgeError {
  const detailCode = error.details?.code;
  const details = {
    node,
    method: context.method,
    gatewayCode: error.code,
    detailCode,
    gatewayDetails: error.details,
    gatewayMessage: error.message,
  };
  const code: ErrorCode = isForbidden(error) ? "CB_GATEWAY_FORBIDDEN" : "CB_GATEWAY_REQUEST_FAILED";
  const codes = `${error.code}${detailCode && detailCode !== error.code ? `/${detailCode}` : ""}`;
  return new ClawbridgeError(
    code,
    nodeText(node, msg.text("requestFailed", { method: context.method, codes, reason: error.message })),
    {
      retryable: error.retryable ?? false,
      retryAfterMs: error.retryAfterMs,
      details,
      fix: code === "CB_GATEWAY_FORBIDDEN" ? msg.text("forbiddenFix", { node }) : undefined,
    },
  );
}

/** `openclaw devices approve <id>`, with `--url/--token` when the gateway is not on the default port. */
export function approveCommand(url: string, requestId: string): string {
  let port = DEFAULT_GATEWAY_PORT;
  try {
    const parsed = new URL(url);
    port = parsed.port ? Number(parsed.port) : parsed.protocol === "wss:" ? 443 : 80;
  } catch {
    // A bad URL is reported elsewhere; the default command is still the best hint.
  }
  const base = `openclaw devices approve ${requestId}`;
  return port === DEFAULT_GATEWAY_PORT
    ? base
    : `${base} --url ws://127.0.0.1:${port} --token <your gateway token>`;
}

export function pairingError(
  node: string,
  url: string,
  requestId: string,
): ClawbridgeError<"CB_GATEWAY_PAIRING_REQUIRED"> {
  const command = approveCommand(url, requestId);
  return new ClawbridgeError("CB_GATEWAY_PAIRING_REQUIRED", nodeText(node, msg.text("pairingRequired")), {
    fix: msg.text("pairingFix", { command, node }),
    retryable: true,
    details: { node, requestId, command },
  });
}

/** The credentials were refused: which ones, and which setting to fix (named, never shown). */
export function authError(
  node: string,
  refusal: { code: string; missing: boolean; message?: string },
  tokenSource: string | undefined,
  triedDeviceToken: boolean,
): ClawbridgeError<"CB_GATEWAY_AUTH"> {
  const where = tokenSource
    ? msg.text("tokenWhereEnv", { name: tokenSource })
    : msg.text("tokenWhereConfig", { node });
  const what = refusal.missing
    ? msg.text("tokenMissing")
    : triedDeviceToken
      ? msg.text("tokenMismatchDeviceToo")
      : refusal.code === "AUTH_TOKEN_MISMATCH"
        ? msg.text("tokenMismatch")
        : msg.text("authRefused", { code: refusal.code, reason: refusal.message ?? "" });
  return new ClawbridgeError("CB_GATEWAY_AUTH", nodeText(node, what), {
    fix: gatewayText("tokenFix", { node }, { where }),
    details: { node, tokenSource, missing: refusal.missing, detailCode: refusal.code, triedDeviceToken },
  });
}

export function protocolMismatchError(
  node: string,
  theirs: unknown,
): ClawbridgeError<"CB_GATEWAY_PROTOCOL_MISMATCH"> {
  const spoken =
    typeof theirs === "number"
      ? msg.text("protocolNumber", { version: theirs })
      : msg.text("protocolUnknown");
  return new ClawbridgeError(
    "CB_GATEWAY_PROTOCOL_MISMATCH",
    nodeText(node, gatewayText("protocolMismatch", { ours: PROTOCOL_VERSION }, { theirs: spoken })),
    {
      fix: msg.text("protocolFix", { node, ours: PROTOCOL_VERSION }),
      details: { node, theirs },
    },
  );
}
