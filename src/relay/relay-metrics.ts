/** Where an effect goes: a node's gateway, an inbox append, a chat post. */
export type EffectRoute = "gateway" | "mailbox" | "chat";
/** How one attempt at an effect ended. */
export type EffectOutcome = "delivered" | "retried" | "dead_letter" | "overflow";

/**
 * What the relay reports as it works. A port, so the relay does not know how it is counted
 * (the ops layer turns it into Prometheus series).
 */
export interface RelayMetricsPort {
  /** `node`: the node delivered to or whose inbox was appended to; a chat post names none. */
  effect(route: EffectRoute, node: string | undefined, outcome: EffectOutcome, latencyMs?: number): void;
}
