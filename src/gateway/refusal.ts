import { isClawbridgeError } from "../core/index.js";

/**
 * What a gateway's "no" to `connect` means for the link. Read from the gateway's codes only
 * (`error.code` and `error.details.code`, see OPENCLAW-PROTOCOL.md), never from its message:
 * messages are prose for people and change between releases.
 */
export type Refusal =
  /** This device must be approved on the node's computer (`requestId` names the request). */
  | { kind: "pairing"; requestId: string }
  /** The credentials were refused; `code` is the gateway's `AUTH_*` code, `message` its words for people. */
  | { kind: "auth"; code: string; missing: boolean; deviceTokenMayHelp: boolean; message: string }
  | { kind: "protocol"; expectedProtocol: unknown }
  /** Connected identity lacks a scope (`FORBIDDEN` / `MISSING_SCOPE`). */
  | { kind: "forbidden" }
  /** Anything else (`UNAVAILABLE`, …): an attempt that failed, retried with backoff. */
  | { kind: "other" };

/** A gateway error as it comes off the wire, or as our errors keep it (`gatewayCode`, `gatewayDetails`). */
export interface RefusalShape {
  code: string;
  /** Carried into the result for people to read; never looked at to decide. */
  message?: string;
  details?: Record<string, unknown>;
}

const AUTH_TOKEN_MISMATCH = "AUTH_TOKEN_MISMATCH";
const AUTH_TOKEN_MISSING = "AUTH_TOKEN_MISSING";

function detailCodeOf(error: RefusalShape): string | undefined {
  const code = error.details?.code;
  return typeof code === "string" ? code : undefined;
}

/** `FORBIDDEN` / `MISSING_SCOPE`, in either place the gateway may put it. */
export function isForbidden(error: RefusalShape): boolean {
  const detail = detailCodeOf(error);
  return error.code === "FORBIDDEN" || error.code === "MISSING_SCOPE" || detail === "MISSING_SCOPE";
}

export function classifyRefusal(error: RefusalShape): Refusal {
  const detail = detailCodeOf(error);
  const codes = [error.code, detail];
  const details = error.details ?? {};
  // `NOT_PAIRED` also comes with other detail codes (`DEVICE_IDENTITY_REQUIRED`): those are no
  // pairing request anyone could approve, so the detail code decides when there is one.
  if (detail === "PAIRING_REQUIRED" || (detail === undefined && error.code === "NOT_PAIRED")) {
    return { kind: "pairing", requestId: typeof details.requestId === "string" ? details.requestId : "" };
  }
  if (codes.includes("PROTOCOL_MISMATCH"))
    return { kind: "protocol", expectedProtocol: details.expectedProtocol };
  // The detail code is the precise one (`INVALID_REQUEST` + `AUTH_TOKEN_MISMATCH`); a bare
  // top-level `AUTH_*` code counts too.
  const auth = [detail, error.code].find((code) => code?.startsWith("AUTH_"));
  if (auth) {
    return {
      kind: "auth",
      code: auth,
      missing: auth === AUTH_TOKEN_MISSING,
      message: error.message ?? "",
      // The gateway says so outright, or the shared token is what it refused.
      deviceTokenMayHelp:
        auth === AUTH_TOKEN_MISMATCH ||
        details.canRetryWithDeviceToken === true ||
        details.recommendedNextStep === "retry_with_device_token",
    };
  }
  if (isForbidden(error)) return { kind: "forbidden" };
  return { kind: "other" };
}

/**
 * The refusal inside one of our errors (the gateway's codes are kept in its typed details);
 * `undefined` when nobody refused — a timeout, a closed socket, no answer at all.
 */
export function refusalOf(error: unknown): Refusal | undefined {
  if (
    !isClawbridgeError(error, "CB_GATEWAY_REQUEST_FAILED") &&
    !isClawbridgeError(error, "CB_GATEWAY_FORBIDDEN")
  )
    return undefined;
  const { gatewayCode, gatewayMessage, gatewayDetails } = error.details;
  return classifyRefusal({ code: gatewayCode, message: gatewayMessage, details: gatewayDetails });
}
