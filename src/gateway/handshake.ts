import type { ClawbridgeError } from "../core/index.js";
import type { ResolvedClientOptions } from "./client-options.js";
import { buildConnectParams } from "./connect-params.js";
import { helloOkSchema, type ConnectParams, type HelloOk } from "./frames.js";
import { authError, pairingError, protocolMismatchError } from "./gateway-errors.js";
import { badHelloError } from "./link-errors.js";
import { refusalOf } from "./refusal.js";

/** How one `connect` ended, and so where the link goes next. */
export type HandshakeResult =
  | { kind: "hello"; hello: HelloOk }
  /** The shared token was refused but this gateway gave us a device token once: try that at once. */
  | { kind: "retry-with-device-token" }
  /** Refused for a reason a person must fix; retried slowly, never before `retryAfterMs`. */
  | { kind: "pairing"; error: ClawbridgeError<"CB_GATEWAY_PAIRING_REQUIRED">; retryAfterMs?: number }
  | { kind: "auth-failed"; error: ClawbridgeError<"CB_GATEWAY_AUTH">; retryAfterMs?: number }
  | {
      kind: "protocol-mismatch";
      error: ClawbridgeError<"CB_GATEWAY_PROTOCOL_MISMATCH">;
      retryAfterMs?: number;
    }
  /** No answer, a bad answer, or a refusal worth retrying with backoff (`UNAVAILABLE` …). */
  | { kind: "failed"; error: ClawbridgeError };

/**
 * The `connect` exchange of one client: signed params with the right token, the device token
 * a gateway hands out (stored, and tried when the shared token stops matching), and what a
 * refusal means — decided by the gateway's codes (see `refusal.ts`).
 */
export class Handshake {
  private storedDeviceToken: string | undefined;
  /** After a token mismatch: send the stored device token along (once, until the next hello). */
  private useDeviceToken = false;
  private triedDeviceToken = false;
  /** The last device-token write, awaited by `stop()` so a quick restart keeps the token. */
  tokenWrite: Promise<void> = Promise.resolve();

  constructor(private readonly options: ResolvedClientOptions) {}

  /** The signed `connect` params answering a challenge. */
  async params(nonce: string, ts: number): Promise<ConnectParams> {
    const { deviceTokens, secrets, node } = this.options;
    this.storedDeviceToken = (await deviceTokens?.get(node))?.token;
    if (this.storedDeviceToken) secrets?.add(this.storedDeviceToken);
    return buildConnectParams({
      identity: this.options.identity,
      nonce,
      ts,
      token: this.options.token,
      deviceToken: this.storedDeviceToken,
      preferDeviceToken: this.useDeviceToken,
      scopes: this.options.scopes,
      clientVersion: this.options.clientVersion,
    });
  }

  /**
   * Answers a challenge: sends `connect` and reads the answer. `undefined` when the attempt
   * ended meanwhile (`isCurrent` says no): a stale answer must not change anything.
   */
  async exchange(
    nonce: string,
    ts: number,
    send: (params: ConnectParams) => Promise<unknown>,
    isCurrent: () => boolean,
  ): Promise<HandshakeResult | undefined> {
    const params = await this.params(nonce, ts);
    const answer = await send(params).then(
      (hello) => ({ hello }),
      (error: ClawbridgeError) => ({ error }),
    );
    if (!isCurrent()) return undefined;
    return "error" in answer ? this.refused(answer.error) : this.accepted(answer.hello);
  }

  /** The gateway answered `connect` with a payload: `hello-ok`, we hope. */
  accepted(payload: unknown): HandshakeResult {
    const hello = helloOkSchema.safeParse(payload);
    if (!hello.success) return { kind: "failed", error: badHelloError(this.options.node) };
    this.triedDeviceToken = false;
    this.useDeviceToken = false;
    const deviceToken = hello.data.auth?.deviceToken;
    if (deviceToken) this.storeDeviceToken(deviceToken, hello.data.auth?.scopes);
    return { kind: "hello", hello: hello.data };
  }

  /** `connect` failed: a refusal (read by its codes) or no answer at all. */
  refused(error: ClawbridgeError): HandshakeResult {
    const { node, url, tokenSource } = this.options;
    const refusal = refusalOf(error);
    const { retryAfterMs } = error;
    switch (refusal?.kind) {
      case "pairing":
        return { kind: "pairing", error: pairingError(node, url, refusal.requestId), retryAfterMs };
      case "auth":
        if (refusal.deviceTokenMayHelp && this.storedDeviceToken && !this.triedDeviceToken) {
          // The shared token changed; the device token this gateway gave us may still be good.
          this.triedDeviceToken = true;
          this.useDeviceToken = true;
          return { kind: "retry-with-device-token" };
        }
        return {
          kind: "auth-failed",
          error: authError(node, refusal, tokenSource, this.triedDeviceToken),
          retryAfterMs,
        };
      case "protocol":
        return {
          kind: "protocol-mismatch",
          error: protocolMismatchError(node, refusal.expectedProtocol),
          retryAfterMs,
        };
      default:
        return { kind: "failed", error };
    }
  }

  private storeDeviceToken(token: string, scopes: string[] | undefined): void {
    const { deviceTokens, secrets, node, url, log } = this.options;
    secrets?.add(token);
    this.storedDeviceToken = token;
    this.tokenWrite = (deviceTokens?.set(node, { token, scopes, url }) ?? Promise.resolve()).catch(
      (error: unknown) => log.warn({ err: error }, "could not store the device token"),
    );
  }
}
