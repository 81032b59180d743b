import type { Config } from "../config/index.js";
import { DEFAULT_LOCALE, isoWithOffset, newId, systemClock, type Locale } from "../core/index.js";
import { AddressBook } from "./addressing.js";
import { describeStop, LoopGuard } from "./loop-guard.js";
import { relayMessages } from "./messages.js";
import { Relay, type RelayOptions, type RelayPorts } from "./relay.js";
import type { RelayContext, RelayNode } from "./relay-context.js";

/** The parts of the config the relay reads. */
export type RelayConfig = Pick<Config, "nodes" | "mailbox" | "relay" | "state"> & {
  feishu?: { locale?: Locale; chats?: readonly string[] };
};

/**
 * Builds the relay from the config: the nodes as the routes see them, the address book, the
 * loop guard, the localised texts, and the outboxes behind them. The composition root only
 * hands over the ports (mailbox, gateways, chat, logger, clock); `tuning` is for tests.
 */
export function createRelay(
  config: RelayConfig,
  ports: RelayPorts,
  tuning: Pick<RelayOptions, "appendLingerMs"> = {},
): Relay {
  const clock = ports.clock ?? systemClock;
  const locale = config.feishu?.locale ?? DEFAULT_LOCALE;
  const t = relayMessages.t(locale);
  const nodes = new Map<string, RelayNode>(
    config.nodes.map((n) => [
      n.name,
      {
        name: n.name,
        displayName: n.displayName,
        agentId: n.agentId,
        hasGateway: Boolean(n.url),
        hearsBots: n.bot?.hearsBots ?? false,
        botName: n.bot?.name,
      },
    ]),
  );
  const ctx: RelayContext = {
    self: config.mailbox.self,
    nodes,
    book: new AddressBook(
      config.nodes.map((n) => ({ node: n.name, displayName: n.displayName, botName: n.bot?.name })),
    ),
    guard: new LoopGuard({
      maxHops: config.relay.maxHops,
      perPairPerMinute: config.relay.budget.perPairPerMinute,
      cooldownSeconds: config.relay.budget.cooldownSeconds,
      clock,
    }),
    auditChat: config.relay.auditChat,
    chats: new Set(config.feishu?.chats ?? []),
    mirrorToChat: config.relay.mirrorToChat,
    t,
    describeStop: (admission) => describeStop(admission, t),
    newId: () => newId(clock.now()),
    timestamp: () => isoWithOffset(clock.now()),
  };
  return new Relay(ctx, ports, {
    stateDir: config.state.dir,
    outboxPerNode: config.relay.outboxPerNode,
    runTimeoutMs: config.relay.runTimeoutMs,
    locale,
    ...tuning,
  });
}
