import {
  ClawbridgeError,
  isClawbridgeError,
  isRetryable,
  type Envelope,
  type ErrorCode,
} from "../core/index.js";
import type { GatewayClient } from "../gateway/index.js";
import type { MailboxStore } from "../mailbox/index.js";
import type { AppendAction, DeliverAction, PostAction } from "./actions.js";
import { relayMessages as m } from "./messages.js";
import type { RelayNode } from "./relay-context.js";

/** Where posts go: the Feishu outbound queue (or nothing, without Feishu). */
export interface ChatPoster {
  send(request: {
    chatId: string;
    content: { kind: "text"; text: string };
    replyTo?: string;
    uuid?: string;
  }): Promise<unknown>;
}

/** Agent runs that end in error are tried this many times before the delivery is given up. */
export const RUN_ATTEMPTS = 3;

const NODE_REFUSALS = new Set<ErrorCode>([
  "CB_GATEWAY_PAIRING_REQUIRED",
  "CB_GATEWAY_AUTH",
  "CB_GATEWAY_FORBIDDEN",
  "CB_GATEWAY_PROTOCOL_MISMATCH",
]);

/**
 * Whether a delivery's failure is final. The gateway refusing the request itself as invalid
 * (an unknown agent id, bad parameters) is, at once; an agent run that ended in error may be
 * the model's passing trouble or the envelope's own fault, so it gets `RUN_ATTEMPTS` tries.
 * A refusal of the node as a whole (pairing, token, scopes, protocol) is no fault of the
 * envelope: it waits like an offline node, for someone to fix the node. Everything else
 * follows its error's `retryable`.
 */
export function isFinalFailure(error: unknown, failures: number): boolean {
  if (isClawbridgeError(error) && NODE_REFUSALS.has(error.code)) return false;
  if (isRunFailure(error)) return failures >= RUN_ATTEMPTS;
  return !isRetryable(error);
}

/** The gateway says the agent run itself failed (not that the request was invalid or the link dropped). */
export function isRunFailure(error: unknown): boolean {
  if (isClawbridgeError(error, "CB_GATEWAY_REQUEST_FAILED")) {
    return !error.retryable && error.details.gatewayCode !== "INVALID_REQUEST";
  }
  return isClawbridgeError(error, "CB_GATEWAY_RUN_FAILED");
}

/**
 * Runs a delivery on the node's gateway and resolves with the agent's answer. The envelope
 * id is the idempotency key, so a retry after a crash never runs twice. An aborted run is a
 * permanent failure; one that ended in error is tried `RUN_ATTEMPTS` times; a timeout may
 * always be tried again.
 */
export async function deliverToGateway(
  action: DeliverAction,
  gateway: GatewayClient | undefined,
  node: RelayNode | undefined,
  runTimeoutMs: number,
  runFailures = 0,
): Promise<string> {
  if (!gateway) {
    throw new ClawbridgeError("CB_NODE_NO_GATEWAY", m.text("noGateway", { node: action.node }), {
      fix: m.text("noGatewayFix", { node: action.node }),
      details: { node: action.node },
    });
  }
  const run = gateway.runAgent({
    prompt: promptFor(action.envelope),
    sessionKey: action.sessionKey,
    idempotencyKey: idempotencyKey(action, runFailures),
    agentId: node?.agentId,
    timeoutMs: runTimeoutMs,
  });
  const result = await run.result;
  if (result.status === "ok") return result.text;
  const details = { node: action.node, runId: result.runId };
  if (result.status === "timeout") {
    throw new ClawbridgeError(
      "CB_GATEWAY_TIMEOUT",
      m.text("runTimedOut", { node: action.node, runId: result.runId }),
      {
        details,
      },
    );
  }
  const text = m.text("runEnded", { node: action.node, runId: result.runId, status: result.status });
  const fix = m.text("runEndedFix", { node: action.node });
  if (result.status === "aborted") {
    // Someone stopped it on purpose: running it again would undo that.
    throw new ClawbridgeError("CB_GATEWAY_ABORTED", text, { fix, details });
  }
  // A model or tool failure may pass; the relay tries a few times (RUN_ATTEMPTS) before giving up.
  throw new ClawbridgeError("CB_GATEWAY_RUN_FAILED", text, {
    fix,
    retryable: true,
    details: { ...details, status: result.status },
  });
}

/**
 * Appends envelopes to their inboxes in one locked write per inbox. Envelopes replayed
 * after a restart look for themselves first: written just before a crash, they are not
 * written twice.
 */
export async function appendToInboxes(
  mailbox: MailboxStore,
  actions: readonly { action: AppendAction; replayed: boolean }[],
): Promise<void> {
  const envelopes: Envelope[] = [];
  for (const { action, replayed } of actions) {
    const { envelope } = action;
    if (replayed && (await mailbox.containsRecentId(envelope.to, envelope.id))) continue;
    envelopes.push({ ...envelope, source: envelope.source ?? "clawbridge" });
  }
  await mailbox.appendMany(envelopes);
}

/**
 * Posts the action's text; resolves with the message id when the chat reports one.
 * `sentPost` finds the message id of an earlier post by its uuid (`place.replyToPost`).
 */
export async function postToChat(
  chat: ChatPoster | undefined,
  action: PostAction,
  sentPost: (uuid: string) => string | undefined = () => undefined,
): Promise<string | undefined> {
  if (!chat) return undefined;
  const mention = action.mention
    ? `<at user_id="${action.mention.openId.replace(/[^A-Za-z0-9_-]/g, "")}">${escapeAtName(action.mention.name ?? "")}</at> `
    : "";
  const { place } = action;
  const replyTo = place.replyTo ?? (place.replyToPost ? sentPost(place.replyToPost) : undefined);
  const sent = await chat.send({
    chatId: place.chatId,
    content: { kind: "text", text: mention + action.text },
    ...(replyTo ? { replyTo } : {}),
    uuid: action.uuid,
  });
  const messageId = (sent as { messageId?: unknown } | undefined)?.messageId;
  return typeof messageId === "string" ? messageId : undefined;
}

/**
 * The gateway's idempotency key: the envelope id, so a retry after a crash or a lost
 * connection never runs twice. A gateway remembers a failed run under its key too, so a new
 * try after a definite failure (an agent run that ended in error, a dead letter put back)
 * needs a key of its own.
 */
export function idempotencyKey(action: DeliverAction, runFailures: number): string {
  const retried = action.retries ? `#r${action.retries}` : "";
  const again = runFailures > 0 ? `#${runFailures + 1}` : "";
  return `${action.envelope.id}${retried}${again}`;
}

/** What the addressed agent reads: who it is from, then the text. */
function promptFor(envelope: Envelope): string {
  const from = envelope.name ? `${envelope.name} (${envelope.from})` : envelope.from;
  return `[clawbridge] ${envelope.type} from ${from}:\n\n${envelope.content}`;
}

/** A name inside our own `<at>` tag must not close it or open another. */
function escapeAtName(name: string): string {
  return name.replace(/[<>&"]/g, "");
}
