import { ClawbridgeError, type ErrorCode } from "../core/index.js";
import type { GatewayErrorShape } from "./frames.js";

export const DEFAULT_GATEWAY_PORT = 18789;

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
  };
  let code: ErrorCode = "CB_GATEWAY_REQUEST_FAILED";
  if (error.code === "FORBIDDEN" || error.code === "MISSING_SCOPE" || detailCode === "MISSING_SCOPE")
    code = "CB_GATEWAY_FORBIDDEN";
  return new ClawbridgeError(
    code,
    `node ${node}: ${context.method} failed: ${error.code}${detailCode && detailCode !== error.code ? `/${detailCode}` : ""}: ${error.message}`,
    {
      retryable: error.retryable ?? false,
      retryAfterMs: error.retryAfterMs,
      details,
      fix:
        code === "CB_GATEWAY_FORBIDDEN"
          ? `approve this device with operator.read and operator.write scopes on ${node} (openclaw devices list)`
          : undefined,
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
  return new ClawbridgeError(
    "CB_GATEWAY_PAIRING_REQUIRED",
    `node ${node}: pairing required — this bridge's device is not approved yet`,
    {
      fix: `run \`${command}\` on ${node}'s computer; clawbridge connects by itself once it is approved`,
      retryable: true,
      details: { node, requestId, command },
    },
  );
}

export function tokenMismatchError(
  node: string,
  tokenSource: string | undefined,
  triedDeviceToken: boolean,
  missing = false,
): ClawbridgeError {
  const where = tokenSource ? `the environment variable ${tokenSource}` : `nodes[].token for ${node}`;
  const what = missing
    ? "the gateway requires a token and none was sent"
    : `the gateway refused the token (gateway token mismatch)${triedDeviceToken ? "; the stored device token was refused too" : ""}`;
  return new ClawbridgeError("CB_GATEWAY_AUTH", `node ${node}: ${what}`, {
    fix: `set ${where} to that gateway's gateway.auth.token (see \`openclaw gateway status\` on ${node}'s computer) and restart clawbridge`,
    details: { node, tokenSource },
  });
}

export function protocolMismatchError(node: string, theirs: unknown): ClawbridgeError {
  const spoken = typeof theirs === "number" ? `protocol ${theirs}` : "another protocol version";
  return new ClawbridgeError(
    "CB_GATEWAY_PROTOCOL_MISMATCH",
    `node ${node}: the gateway speaks ${spoken}; clawbridge speaks protocol 4`,
    {
      fix: `upgrade OpenClaw on ${node} (or clawbridge) so both speak gateway protocol 4`,
      details: { node, theirs },
    },
  );
}
