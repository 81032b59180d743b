/** The relay: routes between the group, the gateways and the mailboxes (ARCHITECTURE.md "Routes"). */
export * from "./actions.js";
export { AddressBook, type AddressBookEntry, type Addressee } from "./addressing.js";
export { LoopGuard, type Admission, type LoopGuardOptions } from "./loop-guard.js";
export { Outbox, type OutboxItem, type PutResult } from "./outbox.js";
export type { OutboxStore } from "./outbox-store.js";
export { RedisOutbox, type RedisOutboxOptions } from "./redis-outbox.js";
export { DeliveryLoop, type DeliveryLoopOptions, type LoopItem } from "./delivery-loop.js";
export { OutboxTailLedger } from "./outbox-tail-ledger.js";
export {
  Relay,
  MAILBOX_TARGET,
  CHAT_TARGET,
  type RelayPorts,
  type RelayOptions,
  type ChatPoster,
  type OutboxShape,
} from "./relay.js";
export type { EffectOutcome, EffectRoute, RelayMetricsPort } from "./relay-metrics.js";
export { createRelay, type RelayConfig } from "./create-relay.js";
export { inboxLinesHandler, type TasksFirst } from "./inbox-lines.js";
export {
  readDeadLetters,
  deadLettersOf,
  requestRetry,
  DEAD_LETTERS_FILE,
  RETRY_REQUESTS_DIR,
  type DeadLetter,
  type DeadLetterReason,
  type RetryRequest,
} from "./dead-letters.js";
export { newEnvelope, postUuid, type RelayContext, type RelayNode } from "./relay-context.js";
export { relayMessages, type RelayMessageKey } from "./messages.js";
export { fold } from "./fold.js";
export { chatSessionKey, mailboxSessionKey, taskSessionKey } from "./session-keys.js";
export { planTell, tellEnvelopeId, type TellRequest } from "./plan-group.js";
export { planFromObserved } from "./plan-observed.js";
export { planFromMailbox } from "./plan-mailbox.js";
export { planAnswer } from "./plan-answer.js";
