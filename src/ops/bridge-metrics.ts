import type { Clock } from "../core/index.js";
import { intakeUp, type FeishuAdapter } from "../feishu/index.js";
import type { GatewayClient } from "../gateway/index.js";
import type { QuarantineSink } from "../mailbox/index.js";
import type { NodePool } from "../nodes/index.js";
import type { Relay, RelayMetricsPort } from "../relay/index.js";
import type { TaskState } from "../tasks/index.js";
import { mirrorCounter, type Metrics } from "./metrics.js";

/** Outbox names as labels: the relay's internal `_mailbox`/`_chat` read as `mailbox`/`chat`. */
function outboxLabel(metrics: Metrics, target: string): string {
  if (target === "_mailbox") return "mailbox";
  if (target === "_chat") return "chat";
  return metrics.node(target);
}

/** The relay's effects as `envelopes_total` and `delivery_seconds`. */
export function relayMetrics(metrics: Metrics): RelayMetricsPort {
  return {
    effect(route, node, outcome, latencyMs) {
      metrics.envelopes.inc({ route, node: node === undefined ? "" : metrics.node(node), outcome });
      if (latencyMs !== undefined) metrics.deliverySeconds.observe({ route }, Math.max(0, latencyMs) / 1000);
    },
  };
}

/** Counts what goes into the quarantine, then hands it on. */
export function countingQuarantine(metrics: Metrics, inner: QuarantineSink): QuarantineSink {
  return {
    async put(record) {
      await inner.put(record);
      metrics.quarantined.inc();
    },
    close: async () => {
      await inner.close?.();
    },
  };
}

/** Outbox depths and dead letters, read from the relay at scrape time. */
export function watchRelay(metrics: Metrics, relay: Relay): void {
  metrics.onCollect(() => {
    metrics.outboxDepth.reset();
    metrics.deadLetters.reset();
    for (const [target, { pending }] of Object.entries(relay.stats())) {
      const outbox = outboxLabel(metrics, target);
      metrics.outboxDepth.inc({ outbox }, pending);
      metrics.deadLetters.set({ outbox }, 0);
    }
    for (const letter of relay.deadLetterList())
      metrics.deadLetters.inc({ outbox: outboxLabel(metrics, letter.target) });
  });
}

/**
 * Each gateway's connection, latency, runs and pairing. Reconnects and the pairing wait are
 * events, so they are followed through the state listener rather than read at scrape time.
 */
export function watchGateways(
  metrics: Metrics,
  gateways: ReadonlyMap<string, GatewayClient>,
  clock: Clock,
): () => void {
  const offs: (() => void)[] = [];
  for (const [name, gateway] of gateways) {
    const node = metrics.node(name);
    metrics.gatewayReconnects.inc({ node }, 0);
    // Gateways connect while the bridge starts, before this listener exists.
    let wasUp = gateway.health().state === "connected";
    let pairingSince: number | undefined;
    offs.push(
      gateway.onState((health) => {
        if (health.pairing) pairingSince ??= health.pairing.since;
        if (health.state !== "connected") return;
        if (wasUp) metrics.gatewayReconnects.inc({ node });
        wasUp = true;
        if (pairingSince !== undefined) {
          metrics.pairingWait.observe({ node }, Math.max(0, clock.now() - pairingSince) / 1000);
          pairingSince = undefined;
        }
      }),
    );
  }
  metrics.onCollect(() => {
    const badFrames: { labels: { node: string }; value: number }[] = [];
    for (const [name, gateway] of gateways) {
      const node = metrics.node(name);
      const health = gateway.health();
      badFrames.push({ labels: { node }, value: health.badFrames ?? 0 });
      metrics.gatewayUp.set({ node }, health.state === "connected" ? 1 : 0);
      metrics.gatewayRuns.set({ node }, health.runningRuns);
      if (health.latencyMs !== undefined) metrics.gatewayLatency.set({ node }, health.latencyMs / 1000);
      metrics.pairingPending.set({ node }, health.pairing ? 1 : 0);
    }
    mirrorCounter(metrics.gatewayBadFrames, badFrames);
  });
  return () => {
    for (const off of offs) off();
  };
}

/** Whether each node can take work. */
export function watchPool(metrics: Metrics, pool: NodePool): void {
  metrics.onCollect(() => {
    for (const node of pool.health())
      metrics.nodeHealthy.set({ node: metrics.node(node.name) }, node.healthy ? 1 : 0);
  });
}

/** Tasks by state. */
export function watchTasks(metrics: Metrics, stats: () => Record<TaskState, number>): void {
  metrics.onCollect(() => {
    for (const [state, count] of Object.entries(stats())) metrics.tasks.set({ state }, count);
  });
}

const INTAKE_VERDICTS = {
  handled: "handled",
  duplicates: "duplicate",
  ignored: "ignored",
  unreadable: "unreadable",
  failed: "failed",
  cardActions: "card_action",
} as const;

const OUTBOUND_OUTCOMES = {
  sent: "sent",
  patched: "patched",
  coalesced: "coalesced",
  retries: "retried",
  rateLimited: "rate_limited",
  fallbacks: "fallback",
  truncated: "truncated",
  failed: "failed",
} as const;

/** The Feishu edge: intake verdicts and connection, outbound calls and queues, webhook refusals. */
export function watchFeishu(metrics: Metrics, feishu: FeishuAdapter): void {
  metrics.onCollect(() => {
    const health = feishu.health();
    const mode = health.mode;
    mirrorCounter(
      metrics.intakeEvents,
      Object.entries(INTAKE_VERDICTS).map(([key, verdict]) => ({
        labels: { mode, verdict },
        value: health.intakeStats[key as keyof typeof INTAKE_VERDICTS],
      })),
    );
    metrics.feishuIntakeUp.set(intakeUp(health) ? 1 : 0);
    mirrorCounter(metrics.feishuReconnects, [{ value: health.intakeReconnects }]);
    mirrorCounter(
      metrics.webhookRejected,
      Object.entries(health.webhookRejected).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    mirrorCounter(
      metrics.feishuCalls,
      Object.entries(OUTBOUND_OUTCOMES).map(([key, outcome]) => ({
        labels: { outcome },
        value: health.outbound[key as keyof typeof OUTBOUND_OUTCOMES],
      })),
    );
    mirrorCounter(metrics.feishuRateLimitWaits, [{ value: health.outbound.rateLimited }]);
    metrics.feishuQueueDepth.reset();
    for (const [chat, depth] of Object.entries(health.outbound.chats)) {
      metrics.feishuQueueDepth.inc({ chat: metrics.chat(chat) }, depth);
    }
  });
}
