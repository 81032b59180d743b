/**
 * Every refusal the emulator answers, in one table: HTTP status, Feishu `code`, `msg`.
 * Where the real platform's answer is known it is copied; where it is not, the choice is
 * ours and marked "(ours)". Clients must key on `code`, not on the HTTP status or text.
 */
export interface Refusal {
  status: number;
  code: number;
  msg: string;
}

const refusal = (status: number, code: number, msg: string): Refusal => ({ status, code, msg });

export const REFUSALS = {
  /** Token endpoints: unknown app_id or missing fields. */
  tokenInvalidParam: refusal(400, 10003, "invalid param"),
  /**
   * Token endpoints: wrong app_secret. HTTP 400 (as the platform answers): the SDK then
   * throws an AxiosError and *logs it with the request body*, app_secret included — the
   * path our redacting SDK logger must survive. (With HTTP 200 the SDK throws a clean
   * "failed to get tenant_access_token, code: 10014" instead.)
   */
  appSecretInvalid: refusal(400, 10014, "app secret invalid"),
  /** No `Authorization: Bearer …` header. */
  tokenMissing: refusal(
    400,
    99991661,
    "Missing access token for authorization. Please make a request with token attached.",
  ),
  /** Unknown, expired or revoked tenant token. The SDK does not drop its cached token on this. */
  tokenInvalid: refusal(
    400,
    99991663,
    "Invalid access token for authorization. Please make a request with token attached.",
  ),
  /** App-wide QPS (status: `appLimitHttpStatus`, default 429; headers x-ogw-ratelimit-*). */
  appRateLimited: refusal(429, 99991400, "request trigger frequency limit"),
  /** Schema violations: missing receive_id, unsupported receive_id_type or msg_type. */
  fieldValidation: refusal(400, 99992402, "field validation failed"),
  /** Content not JSON, or not the shape its msg_type needs. */
  invalidContent: refusal(400, 230001, "invalid message content"),
  /** Unknown chat, or the app's bot is not a member (ours: one code for both). */
  botNotInChat: refusal(400, 230002, "bot not in chat"),
  /** Reply/patch/get of an unknown message id (ours). */
  messageNotFound: refusal(400, 230011, "message not found or recalled"),
  /** Per-chat send limit and per-message patch limit (sliding 1 s window). */
  frequencyLimit: refusal(400, 230020, "frequency limit: this operation triggers the frequency limit"),
  /** Text/post over `textMaxBytes`, card over `cardMaxBytes`. */
  contentTooLong: refusal(400, 230025, "message content too long"),
  /** Patch of a message another app sent (ours). */
  notSender: refusal(400, 230027, "no permission: the message was not sent by this app"),
  /** Patch of a card without `config.update_multi: true` (ours). */
  notUpdateMulti: refusal(400, 230031, "card is not shared: update_multi required to patch it"),
  /** Patch of a non-interactive message (ours). */
  notACard: refusal(400, 230001, "only interactive messages can be patched"),
  /** Card JSON that Feishu would not render (or contains the test hook "i_am_invalid"). */
  invalidCard: refusal(
    400,
    230099,
    "Failed to create card content, ext=ErrCode: 200621; ErrMsg: parse card json err",
  ),
  /**
   * `/callback/ws/endpoint` with bad credentials. HTTP 200 + code 514 ("auth_failed" in the
   * SDK's ErrorCode enum): the SDK treats any code but 0 and 1000040343 as fatal and stops
   * retrying. The answer must still carry `data: {}` — the SDK destructures `data.URL`
   * before it looks at `code`, and a missing `data` turns the refusal into a retryable
   * TypeError.
   */
  endpointAuthFailed: refusal(200, 514, "auth failed: app id or secret invalid"),
  notFound: refusal(404, 404, "404 page not found"),
} as const;

/** The fault answer body for an injected status. */
export function faultBody(status: number, code?: number, msg?: string): { code: number; msg: string } {
  if (status === 429) return { code: code ?? 99991400, msg: msg ?? "request trigger frequency limit" };
  return { code: code ?? 1, msg: msg ?? "internal error" };
}
